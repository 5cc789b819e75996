import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { expect } from 'vitest'

/**
 * A helper thread (not Ben's, not the test's main thread): once the main thread says go (flag[2]),
 * publishes `facts` (edge JSON) and waits for a message on `until`, then wakes the main thread
 * through `flag`: flag[0] = 1 seen (2 failed); flag[1] = messages on `meanwhile` seen before it.
 */
const WATCHER = `
const { parentPort, workerData } = require('node:worker_threads')
const { connect } = require(workerData.nats)
const flag = new Int32Array(workerData.shared)
const wake = (v) => { Atomics.store(flag, 0, v); Atomics.notify(flag, 0) }
;(async () => {
  const { url, facts, until, meanwhile } = workerData
  const nc = await connect({ servers: url, name: 'held-loop-test-watcher' })
  const seen = nc.subscribe(until, { max: 1 })
  let decided = false
  if (meanwhile) nc.subscribe(meanwhile, { callback: () => { if (!decided) Atomics.add(flag, 1, 1) } })
  await nc.flush()
  parentPort.postMessage('ready')
  Atomics.wait(flag, 2, 0)
  const json = (o) => new TextEncoder().encode(JSON.stringify({ ...o, ts: o.ts ?? Date.now() }))
  for (const f of facts) nc.publish(f.subject, json(f.fact))
  await nc.flush()
  for await (const m of seen) break
  decided = true
  wake(1)
  await nc.close()
})().catch((err) => { parentPort.postMessage(String(err && err.stack || err)); wake(2) })
`

export interface HeldResult {
  /** A message came on `until` while the calling thread was held (within the deadline). */
  readonly seen: boolean
  /** Messages on `meanwhile` the watcher saw before that one (0 when not asked). */
  readonly meanwhile: number
}

/**
 * Holds the calling thread (Ben's main thread, or a worker's: it runs in this process) in
 * Atomics.wait while a watcher thread publishes `facts` and waits for a message on `until`;
 * `seen` if it came while the thread was held (within a generous deadline). Behaviour, not
 * timing: whatever runs on the held thread cannot run at all meanwhile.
 */
export async function seenWhileHeld(url: string, facts: ReadonlyArray<{ subject: string; fact: Record<string, unknown> }>, until: string, meanwhile?: string): Promise<HeldResult> {
  const shared = new SharedArrayBuffer(12)
  const flag = new Int32Array(shared)
  const errors: string[] = []
  const watcher = new Worker(WATCHER, { eval: true, workerData: { shared, nats: createRequire(import.meta.url).resolve('@nats-io/transport-node'), url, facts, until, meanwhile } })
  await new Promise<void>((resolve, reject) => {
    watcher.on('message', (m) => (m === 'ready' ? resolve() : errors.push(String(m))))
    watcher.once('error', reject)
  })
  // Hold this thread: go, then wait for the watcher's word or the deadline.
  Atomics.store(flag, 2, 1)
  Atomics.notify(flag, 2)
  const held = Atomics.wait(flag, 0, 0, 120_000)
  const seen = held === 'ok' && Atomics.load(flag, 0) === 1
  const meanwhileCount = Atomics.load(flag, 1)
  await watcher.terminate()
  expect(errors).toEqual([])
  return { seen, meanwhile: meanwhileCount }
}
