/**
 * `npm run bench:start [-- --runs 7]`: what a `ben` start costs, in CPU time of the process
 * (utime + stime, from /proc; load average printed beside it):
 * - `ben --version` and `ben status` with no Ben running (exit 5): the CLI's own start;
 * - a worker of `ben up --workers 2` (`ben run --worker-id … --units …`, the command line the
 *   orchestrator spawns) against a real nats-server: from spawn to its hello on
 *   `ben.hello.worker.<id>` and to every unit running (its banner), wall and CPU.
 * Prints the medians; `BEN_START_BIN=/other/checkout/bin/ben.js` measures another build the same
 * way (a same-run baseline).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { startNatsServer } from '../infra/index.js'
import { workerCommand, workerSlots } from '../cli/run.js'
import { procCpu } from './proc-cpu.js'
import { BEN_JS } from './faults/harness.js'

const runs = (() => {
  const i = process.argv.indexOf('--runs')
  return i > 0 ? Number(process.argv[i + 1]) : 7
})()
const bin = process.env.BEN_START_BIN ?? BEN_JS

/** CPU seconds of this process's reaped children (cutime + cstime of /proc/self/stat). */
function childrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const ms = (s: number) => `${Math.round(s * 1000)} ms`

/** CPU of one short `ben` command, run to its end. */
async function once(args: string[], env: NodeJS.ProcessEnv): Promise<{ cpu: number; wall: number }> {
  const before = childrenCpu()
  const t = performance.now()
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { env, stdio: 'ignore' })
    p.on('error', reject)
    p.on('exit', () => resolve())
  })
  return { cpu: childrenCpu() - before, wall: (performance.now() - t) / 1000 }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-start-'))
  const out: Record<string, { cpu: number; wall: number }> = {}
  const loads: string[] = [readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')]
  try {
    const env = { ...process.env, BEN_HOME: join(dir, 'nohome'), XDG_CONFIG_HOME: join(dir, 'config') }
    for (const [name, args] of [
      ['ben --version', ['--version']],
      ['ben status (no Ben)', ['status']],
    ] as const) {
      const rs: Array<{ cpu: number; wall: number }> = []
      for (let i = 0; i < runs; i++) rs.push(await once([...args], env))
      out[name] = { cpu: median(rs.map((r) => r.cpu)), wall: median(rs.map((r) => r.wall)) }
    }

    const server = await startNatsServer({ storeDir: join(dir, 'nats') })
    const nc = await connect({ servers: server.url })
    try {
      const slot = workerSlots(2, 2)[0]
      mkdirSync(join(dir, 'home'))
      const cmd = workerCommand(server.url, join(dir, 'home'), 'ben')
      const hello: number[] = []
      const helloCpu: number[] = []
      const ready: number[] = []
      const readyCpu: number[] = []
      for (let i = 0; i < runs; i++) {
        const s = { ...slot, id: `bench-start-${i}` }
        const { cmd: c, args, env: wenv } = cmd(s)
        const sub = nc.subscribe(`ben.hello.worker.${s.id}`, { max: 1 })
        const t = performance.now()
        const p = spawn(c, [bin, ...args.slice(1)], { env: wenv, stdio: 'ignore' })
        const seen = (async () => {
          for await (const _ of sub) return
        })()
        await seen
        hello.push((performance.now() - t) / 1000)
        helloCpu.push(procCpu(p.pid!))
        // Every unit runs: one line each in the worker's log ("unit <key> runs on worker <id>").
        const logFile = join(dir, 'home', `worker-${s.id}.log`)
        const running = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split(' runs on worker ').length - 1 : 0)
        while (running() < s.units.length) await new Promise((r) => setTimeout(r, 20))
        ready.push((performance.now() - t) / 1000)
        readyCpu.push(procCpu(p.pid!))
        await new Promise<void>((resolve) => {
          p.on('exit', () => resolve())
          p.kill('SIGTERM')
        })
      }
      out['worker: spawn → hello'] = { cpu: median(helloCpu), wall: median(hello) }
      out['worker: spawn → every unit runs'] = { cpu: median(readyCpu), wall: median(ready) }
    } finally {
      await nc.close()
      await server.stop()
    }
    loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '))
    process.stdout.write(`bench:start: ${bin}, median of ${runs} runs; load average ${loads.join(' → ')}\n`)
    for (const [k, v] of Object.entries(out)) process.stdout.write(`  ${k.padEnd(34)} ${ms(v.cpu).padStart(8)} CPU ${ms(v.wall).padStart(8)} wall\n`)
    process.stdout.write(
      JSON.stringify({
        bench: 'start',
        bin,
        runs,
        load: loads,
        ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { cpuMs: Math.round(v.cpu * 1000), wallMs: Math.round(v.wall * 1000) }])),
      }) + '\n',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  process.stderr.write(`bench:start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
