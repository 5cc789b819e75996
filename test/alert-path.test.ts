import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { getPriority } from 'node:os'
import { afterAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactPublisher } from '../streams/index.js'
import { parseEdgeFact } from '../schemas/index.js'
import { createLogger, embeddedEnv, silentLogger, startBen, type Running, type ServiceFactory } from '../infra/index.js'
import { LaneSet, scrubService } from '../processors/wiring/index.js'
import { defaultServices } from '../cli/up.js'
import { consumerSettled, tempDir, waitFor } from './support/servers.js'
import { seenWhileHeld } from './support/held-loop.js'

/**
 * Issue 8 (the lanes' promise under overload, and no fact waiting in a stage, as behaviour): the
 * alert path (scrub's alert lane, policy and act) and the detect path (scrub's routine lanes, and
 * detect: a thread each) run in threads of their own, so an alert is decided, and a metric's anomaly raised,
 * decided and its command signed and sent, while `ben up`'s main thread — the projectors,
 * incident — cannot run at all. The main thread is
 * held in Atomics.wait (a saturated loop, taken to the limit) until a watcher thread has seen the
 * decision or the anomaly, with a generous deadline. With either path on the main loop, nothing is
 * decided or raised while it is held and the wait times out.
 */
describe('the alert and detect paths: decided and detected while the main loop is held', () => {
  const home = tempDir('ben-alertpath-')
  let running: Running | undefined
  const start = (services: ServiceFactory[], log = silentLogger()) => startBen(embeddedEnv(home.path), log, services)

  afterAll(async () => {
    await running?.stop()
    home.remove()
  })

  it("ben up's alert path decides an alert while the main thread is held", async () => {
    running = await start(defaultServices())
    const prefix = running.ctx.subjects.prefix
    const alert = { lane: 'alert', source: 'alert-1', rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: { path: '/tmp/x' } }
    const { seen: decided } = await seenWhileHeld(running.endpoints.natsUrl, [{ subject: `${prefix}.fact.alert.alert-1`, fact: alert }], `${prefix}.decision.*.alert-1`)
    expect(decided, 'the alert was decided while the main thread was held').toBe(true)
  }, 300_000)

  it("ben up's detect path (its own thread by default) raises a critical CPU anomaly, and the alert path decides it and sends its throttle command, while the main thread is held", async () => {
    running ??= await start(defaultServices())
    const prefix = running.ctx.subjects.prefix
    // A calm series past detect's warm-up (100 points), published and applied before the hold…
    const t0 = Date.now() - 60_000
    const calm = Array.from({ length: 200 }, (_, i) => {
      const r = parseEdgeFact({ lane: 'metric', source: 'held-1', ts: t0 + i * 50, name: 'cpu.load', value: 10 + Math.sin(i) * 0.3, labels: { job: 'held' } })
      if (!r.ok) throw new Error(r.error.message)
      return r.value
    })
    const p = new FactPublisher(running.ctx.nc, running.ctx.subjects, running.ctx.codec)
    expect((await p.publishAll(calm)).stored).toBe(calm.length)
    await p.close()
    await waitFor('detect to apply the calm series', () => consumerSettled(running!.ctx.nc, 'DERIVED', 'stage-detect-metric'), 120_000)
    // …then its jump, published while the main thread is held: its anomaly comes out, and the
    // default pack's critical-cpu-throttle decision, signed by act as a throttle_job command.
    const jump = [1, 2, 3].map((k) => ({
      subject: `${prefix}.fact.metric.held-1`,
      fact: { lane: 'metric', source: 'held-1', ts: t0 + (200 + k) * 50, name: 'cpu.load', value: 100 + k, labels: { job: 'held' } },
    }))
    const { seen: sent, meanwhile: anomalies } = await seenWhileHeld(running.endpoints.natsUrl, jump, `${prefix}.cmd.>`, `${prefix}.anomaly.critical.held-1`)
    expect(anomalies, 'a critical anomaly was raised while the main thread was held').toBeGreaterThan(0)
    expect(sent, 'its command was sent while the main thread was held').toBe(true)
  }, 300_000)

  it('the alert path thread runs at a raised priority where the process may raise it (root or CAP_SYS_NICE)', async (t) => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: raising a thread priority needs root or CAP_SYS_NICE, and this test runs as another user')
      t.skip()
    }
    running ??= await start(defaultServices())
    // Linux keeps a nice value per thread: one of this process's threads is 20 below the process's (clamped at -20).
    const nices = readdirSync('/proc/self/task').map((id) => Number(readFileSync(`/proc/self/task/${id}/stat`, 'utf8').split(') ')[1].split(' ')[16]))
    expect(nices).toContain(Math.max(-20, getPriority(0) - 20))
  }, 300_000)

  it('an urgent lane resumes at the later of the split and whole checkpoints (no alert applied twice)', async () => {
    await running?.stop()
    // Scrub's alert lane alone (as the alert path runs it): three alerts, checkpointed and acked.
    running = await start([scrubService(LaneSet.Urgent)])
    const alerts = [1, 2, 3].map((i) => {
      const r = parseEdgeFact({ lane: 'alert', source: 'split-1', ts: 1_763_700_000_000 + i, rule: 'edr.exec', severity: 'high', message: `alert ${i}`, attrs: {} })
      if (!r.ok) throw new Error(r.error.message)
      return r.value
    })
    const p = new FactPublisher(running.ctx.nc, running.ctx.subjects, running.ctx.codec)
    expect((await p.publishAll(alerts)).stored).toBe(3)
    await p.close()
    await waitFor('the alert lane to settle', () => consumerSettled(running!.ctx.nc, 'FACTS', 'stage-scrub-alert'), 120_000)
    await running.stop()
    // The whole stage now (as `ben up --workers` runs it): its own checkpoint knows nothing of those
    // three; it resumes the alert lane after them, so none is delivered to it again.
    running = await start([scrubService()])
    await waitFor('the whole scrub to settle', () => consumerSettled(running!.ctx.nc, 'FACTS', 'stage-scrub-alert'), 120_000)
    const info = await (await jetstreamManager(running.ctx.nc)).consumers.info('FACTS', 'stage-scrub-alert')
    expect(info.delivered.consumer_seq).toBe(0)
  }, 300_000)

  it("the threads' log lines reach ben.log through the process: the file has one writer", async () => {
    await running?.stop()
    // ben up's logger: ben.log in BEN_HOME. Each thread used to append to it through a descriptor
    // of its own; on a full disk a write cut short left part of a line and another thread's line
    // went on after it (seen in log-volume under load: a line that is not JSON).
    const file = join(home.path, 'ben.log')
    running = await start(defaultServices(), createLogger({ level: 'info', file }))
    const lines = () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { name?: string; msg?: string })
    for (const thread of ['ben-alert-path', 'ben-scrub-path', 'ben-detect-path'])
      await waitFor(`${thread}'s start in ben.log`, () => lines().some((l) => l.name === thread && /its stages run in their own thread/.test(l.msg ?? '')) || undefined, 120_000)
    // The detect path's threads run above the rest of the process, below the alert path (-20).
    const privileged = process.getuid?.() === 0
    for (const [thread, by] of [
      ['ben-alert-path', -20],
      ['ben-scrub-path', -10],
      ['ben-detect-path', -10],
    ] as const) {
      const line = lines().find((l) => l.name === thread && /^stage thread: priority/.test(l.msg ?? '')) as { msg: string; from: number; to: number } | undefined
      expect(line, `${thread}'s priority line`).toBeDefined()
      if (privileged) expect([line!.msg, line!.to - line!.from], thread).toEqual(['stage thread: priority raised', Math.max(-20 - line!.from, by)])
      else expect(line!.msg, thread).toMatch(/priority not raised/)
    }
    const writers = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === file
      } catch {
        return false // closed meanwhile
      }
    })
    expect(writers, 'descriptors of this process open on ben.log').toHaveLength(1)
  }, 300_000)
})
