import { readdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { readEnv, silentLogger, embeddedEnv, startBen, type Running } from '../infra/index.js'
import { partitionOf } from '../streams/index.js'
import { allUnits, startWorker, workerContext, type WorkerHandle } from '../fleet/index.js'
import { defaultServices } from '../cli/up.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { seenWhileHeld } from './support/held-loop.js'
import { workerPidsOf } from '../bench/proc-cpu.js'

/** Sources in partition 0 and 1 of 2 (the last subject token decides, streams/partition.ts). */
function sourceIn(partition: number, prefix: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${prefix}-${i}`, 2) === partition) return `${prefix}-${i}`
}

/** Threads of process `pid` and their nice values (Linux keeps one per thread). */
function threadNices(pid: number | 'self'): number[] {
  return readdirSync(`/proc/${pid}/task`).map((id) => Number(readFileSync(`/proc/${pid}/task/${id}/stat`, 'utf8').split(') ')[1].split(' ')[16]))
}

/**
 * Issue 8, the lanes' promise under `ben up --workers N` / `ben run`: a worker runs the alert lanes
 * of its units (scrub's alert lane of each scrub partition, and policy) in an alert thread of its
 * own, as `ben up` does in one process. Shown as behaviour: the worker's main thread — its routine
 * lanes (scrub's routine lane, detect) — is held in Atomics.wait with routine input waiting, and an
 * alert is still decided; the routine input is scrubbed once the thread runs again.
 */
describe("a worker's alert thread: an alert is decided while the worker's routine lanes cannot run", () => {
  const home = tempDir('ben-worker-alert-')
  let nats: TestNats
  beforeAll(async () => {
    nats = await startTestNats()
  })
  afterAll(async () => {
    await nats?.stop()
    home.remove()
  })

  it('decides an alert of each partition while the worker main thread is held with metrics waiting, then scrubs the metrics', async () => {
    const ctx = await workerContext(readEnv({ BEN_NATS_URL: nats.server.url, BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }), silentLogger(), 'test-worker')
    let worker: WorkerHandle | undefined
    try {
      // One worker owns every unit of the graph in two partitions: its alert thread hosts scrub's alert lane of both and policy.
      worker = await startWorker(ctx, { id: 'held-w1', units: allUnits(2) })
      await worker.ready
      const p = nats.subjects.prefix
      for (const part of [0, 1]) {
        const src = sourceIn(part, 'held')
        const metrics = Array.from({ length: 50 }, (_, i) => ({
          subject: `${p}.fact.metric.${src}`,
          fact: { lane: 'metric', source: src, ts: 1_763_700_000_000 + i, name: 'cpu.load', value: 1, labels: {} },
        }))
        const alert = { subject: `${p}.fact.alert.${src}`, fact: { lane: 'alert', source: src, rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: {} } }
        // The routine facts first, then the alert: published while the worker's main thread is held.
        const r = await seenWhileHeld(nats.server.url, [...metrics, alert], `${p}.decision.*.${src}`, `${p}.scrubbed.metric.${src}`)
        expect(r.seen, `the alert of partition ${part} was decided while the worker's main thread was held`).toBe(true)
        expect(r.meanwhile, 'no metric was scrubbed meanwhile: the routine lane could not run').toBe(0)
        // Held, not lost: once the main thread runs again, its routine lane scrubs the 50 metrics.
        const jsm = await jetstreamManager(nats.nc)
        await waitFor(
          `the 50 metrics of ${src} to be scrubbed`,
          async () => (await jsm.streams.info('DERIVED', { subjects_filter: `${p}.scrubbed.metric.${src}` })).state.subjects?.[`${p}.scrubbed.metric.${src}`] === 50,
          120_000,
          200,
        )
      }
      // The alert lanes ran in another thread of this process, at a raised priority where allowed.
      if (process.getuid?.() === 0) expect(threadNices('self').some((n) => n < 0)).toBe(true)
      expect(worker.running().sort()).toEqual(
        allUnits(2)
          .map((u) => (u.partition ? `${u.stage}.p${u.partition.index}of2` : u.stage))
          .sort(),
      )
    } finally {
      await worker?.stop()
      await ctx.close()
    }
    // The thread ended with the worker's last unit: no thread at a raised priority is left behind.
    if (process.getuid?.() === 0) await waitFor('the alert thread to end', () => threadNices('self').every((n) => n >= 0), 60_000)
  }, 300_000)
})

describe('ben up --workers 2: the alert lanes run in the workers’ alert threads', () => {
  const home = tempDir('ben-workers-alert-')
  let running: Running | undefined
  afterAll(async () => {
    await running?.stop()
    home.remove()
  })

  it('decides an alert of each partition through the workers, each worker with a thread at the alert priority', async () => {
    running = await startBen(embeddedEnv(home.path), silentLogger(), defaultServices({ workers: 2 }))
    const p = running.ctx.subjects.prefix
    const js = jetstream(running.ctx.nc)
    const jsm = await jetstreamManager(running.ctx.nc)
    for (const part of [0, 1]) {
      const src = sourceIn(part, 'wk')
      await js.publish(
        `${p}.fact.alert.${src}`,
        JSON.stringify({ lane: 'alert', source: src, ts: Date.now(), rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: {} }),
      )
      await waitFor(
        `the alert of partition ${part} to be decided`,
        async () => ((await jsm.streams.info('DERIVED', { subjects_filter: `${p}.decision.*.${src}` })).state.num_subjects ?? 0) > 0,
        240_000,
        250,
      )
    }
    const pids = workerPidsOf(process.pid)
    expect(pids.length).toBe(2)
    // Each worker owns a scrub partition (an alert lane): each runs an alert thread, raised where allowed.
    if (process.getuid?.() === 0)
      for (const pid of pids) await waitFor(`worker ${pid} to have a thread at a raised priority`, () => threadNices(pid).some((n) => n < 0), 120_000, 250)
  }, 300_000)
})
