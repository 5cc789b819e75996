import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { getPriority } from 'node:os'
import { Worker } from 'node:worker_threads'
import { afterAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactPublisher } from '../streams/index.js'
import { parseEdgeFact } from '../schemas/index.js'
import { readEnv, silentLogger, startBen, type Running, type ServiceFactory } from '../infra/index.js'
import { LaneSet, scrubService } from '../processors/wiring/index.js'
import { defaultServices } from '../cli/up.js'
import { consumerSettled, tempDir, waitFor } from './support/servers.js'

/**
 * A helper thread (not Ben's, not the test's main thread): publishes a routine fact and an alert
 * as edge JSON, waits for the alert's decision, then wakes the main thread through `flag`:
 * flag[0] = 1 decided (2 failed); flag[1] = 1 if the routine fact was scrubbed before that.
 * flag[2] is the main thread's go (it is about to hold its own loop).
 */
const WATCHER = `
const { parentPort, workerData } = require('node:worker_threads')
const { connect } = require(workerData.nats)
const flag = new Int32Array(workerData.shared)
const wake = (v) => { Atomics.store(flag, 0, v); Atomics.notify(flag, 0) }
;(async () => {
  const { url, prefix, routine, alert } = workerData
  const nc = await connect({ servers: url, name: 'alert-path-test-watcher' })
  let scrubbed = false
  nc.subscribe(prefix + '.scrubbed.metric.' + routine, { callback: () => { scrubbed = true } })
  const decided = nc.subscribe(prefix + '.decision.*.' + alert, { max: 1 })
  await nc.flush()
  parentPort.postMessage('ready')
  Atomics.wait(flag, 2, 0)
  const json = (o) => new TextEncoder().encode(JSON.stringify(o))
  nc.publish(prefix + '.fact.metric.' + routine, json({ lane: 'metric', source: routine, ts: Date.now(), name: 'held.check', value: 1, labels: {} }))
  nc.publish(prefix + '.fact.alert.' + alert, json({ lane: 'alert', source: alert, ts: Date.now(), rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: { path: '/tmp/x' } }))
  await nc.flush()
  for await (const m of decided) break
  Atomics.store(flag, 1, scrubbed ? 1 : 0)
  wake(1)
  await nc.close()
})().catch((err) => { parentPort.postMessage(String(err && err.stack || err)); wake(2) })
`

/**
 * Issue 8, item 3 (the lanes' promise under overload, as behaviour): the alert path (scrub's alert
 * lane and policy) runs in a thread of its own, so an alert is decided while `ben up`'s main thread
 * — scrub's routine lane, detect, the projectors — cannot run at all. The main thread is held in
 * Atomics.wait (a saturated loop, taken to the limit) until a watcher thread has seen the alert's
 * decision, with a generous deadline. With the alert path on the main loop, nothing is decided
 * while it is held and the wait times out.
 */
describe('the alert path: an alert is decided while the routine loop is held', () => {
  const home = tempDir('ben-alertpath-')
  let running: Running | undefined
  const start = (services: ServiceFactory[]) =>
    startBen({ ...readEnv({ BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined, clickhouseUrl: process.env.BEN_CLICKHOUSE_URL }, silentLogger(), services)

  afterAll(async () => {
    await running?.stop()
    home.remove()
  })

  it("ben up's alert path decides an alert while the main thread (routine lanes) is held, and the routine fact follows once it is released", async () => {
    running = await start(defaultServices())
    const nc = running.ctx.nc
    const prefix = running.ctx.subjects.prefix
    // Seen here only once the main thread runs again.
    let routineHere = false
    const sub = nc.subscribe(`${prefix}.scrubbed.metric.held-1`, { callback: () => void (routineHere = true) })
    await nc.flush()
    const shared = new SharedArrayBuffer(12)
    const flag = new Int32Array(shared)
    const errors: string[] = []
    const watcher = new Worker(WATCHER, {
      eval: true,
      workerData: { shared, nats: createRequire(import.meta.url).resolve('@nats-io/transport-node'), url: running.endpoints.natsUrl, prefix, routine: 'held-1', alert: 'alert-1' },
    })
    await new Promise<void>((resolve, reject) => {
      watcher.on('message', (m) => (m === 'ready' ? resolve() : errors.push(String(m))))
      watcher.once('error', reject)
    })
    watcher.on('message', (m) => m !== 'ready' && errors.push(String(m)))
    // Hold this thread (Ben's main loop): go, then wait for the watcher's word or the deadline.
    Atomics.store(flag, 2, 1)
    Atomics.notify(flag, 2)
    const held = Atomics.wait(flag, 0, 0, 120_000)
    const routineWhileHeld = Atomics.load(flag, 1) === 1
    expect(errors).toEqual([])
    expect(held === 'ok' && Atomics.load(flag, 0), 'the alert was decided while the main thread was held').toBe(1)
    // The main thread was really held: the routine fact was not scrubbed before the decision.
    expect(routineWhileHeld).toBe(false)
    // Released, the routine lane goes on: the routine fact comes out of scrub.
    await waitFor('the routine fact to be scrubbed once the main thread runs', () => routineHere, 120_000)
    sub.unsubscribe()
    await watcher.terminate()
  }, 300_000)

  it('the alert path thread runs at a raised priority where the process may raise it (root or CAP_SYS_NICE)', async (t) => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: raising a thread priority needs root or CAP_SYS_NICE, and this test runs as another user')
      t.skip()
    }
    running ??= await start(defaultServices())
    // Linux keeps a nice value per thread: one of this process's threads is 5 below the process's.
    const nices = readdirSync('/proc/self/task').map((id) => Number(readFileSync(`/proc/self/task/${id}/stat`, 'utf8').split(') ')[1].split(' ')[16]))
    expect(nices).toContain(Math.max(-20, getPriority(0) - 5))
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
})
