/**
 * Profiling harness (not a bench figure): a backlog in FACTS, then the chosen stages alone in
 * this process (no projectors) until their consumers have nothing pending. `node --cpu-prof`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { jetstreamManager } from '@nats-io/jetstream'
import { profiled } from './profile.js'
import { readEnv, silentLogger, startBen } from '../infra/index.js'
import { scrubService, detectService, policyService, incidentService, actService } from '../processors/wiring/index.js'

const feedScript = join(fileURLToPath(new URL('.', import.meta.url)), 'pipeline-feed.js')
const SECONDS = Number(process.env.BENCH_BACKLOG_SECONDS ?? 5)
const which = (process.env.STAGES ?? 'scrub,detect').split(',')

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'ben-prof-'))
  const env = { ...readEnv({ BEN_HOME: home, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined }
  const bare = await startBen(env, silentLogger(), [])
  const sent = await new Promise<number>((res, rej) => {
    const c = spawn(process.execPath, [feedScript, '--url', bare.endpoints.natsUrl, '--rate', '0', '--seconds', String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    c.stdout.on('data', (b) => (out += b))
    c.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!).sent) : rej(new Error('feed'))))
  })
  await bare.stop()
  const all = { scrub: scrubService(), detect: detectService(), policy: policyService(), incident: incidentService(), act: actService() } as const
  const running = await startBen(
    env,
    silentLogger(),
    which.map((w) => all[w as keyof typeof all]),
  )
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  await profiled(true, async () => {
    const jsm = await jetstreamManager(running.ctx.nc)
    const durables: Array<[string, string]> = []
    if (which.includes('scrub')) durables.push(['FACTS', 'stage-scrub-routine'])
    if (which.includes('detect')) durables.push(['DERIVED', 'stage-detect-metric'])
    for (;;) {
      await new Promise((r) => setTimeout(r, 250))
      let pending = 0
      for (const [s, d] of durables) {
        const i = await jsm.consumers.info(s, d).catch(() => undefined)
        pending += i ? i.num_pending + i.num_ack_pending : 1
      }
      if (pending === 0) break
    }
  })
  const cpu = process.cpuUsage(cpu0)
  const secs = (performance.now() - t0) / 1000
  const cpuUs = cpu.user + cpu.system
  process.stdout.write(
    JSON.stringify({
      sent,
      seconds: +secs.toFixed(2),
      perSecond: Math.round(sent / secs),
      cpuUsPerFact: +(cpuUs / sent).toFixed(1),
      factsPerCpuSecond: Math.round(sent / (cpuUs / 1e6)),
      stages: which,
    }) + '\n',
  )
  await running.stop()
  rmSync(home, { recursive: true, force: true })
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
