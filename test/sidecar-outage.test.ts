/**
 * The bus goes away: nats-server is stopped for 10 s and started again (same port, same
 * store) while the sidecar takes 50,000 facts. Everything buffers in the WAL, and every fact
 * reaches FACTS exactly once, in the order it was accepted.
 */
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '../keys/index.js'
import { defaultManifest } from '../processors/scrub/index.js'
import { createSidecar } from '../sidecar/index.js'
import { tempDir, waitFor } from './support/servers.js'
import { startRestartableNats, type RestartableNats } from './support/restartable.js'
import { readStream, streamCount } from './support/sidecar.js'

const N = 50_000
const BATCH = 100
const TS = 1_763_700_000_000
const batch = (b: number) => Array.from({ length: BATCH }, (_, j) => ({ lane: 'metric', ts: TS + b * BATCH + j, name: 'cpu.load', value: b * BATCH + j, labels: {} }))
/** Paces the input over the outage (the scenario's timing, not a wait for a condition). */
const pace = (ms: number) => new Promise((r) => setTimeout(r, ms))

let nats: RestartableNats | undefined
const dir = tempDir('ben-sidecar-outage-')
afterAll(async () => {
  await nats?.remove()
  dir.remove()
})

describe('sidecar through a NATS outage', () => {
  it('stopped for 10 s mid-stream: all 50,000 facts arrive in FACTS exactly once, in order', async () => {
    nats = await startRestartableNats()
    const nc: NatsConnection = await nats.connect()
    const sc = await createSidecar({ id: 'out-1', nats: nc, walDir: join(dir.path, 'wal'), keyPair: generateKeyPair('sidecar'), manifest: defaultManifest(), registerKey: false })
    await sc.online
    let accepted = 0
    const take = async (b: number) => {
      const r = await sc.accept(batch(b))
      expect(r.rejected).toEqual([])
      accepted += r.accepted
    }
    const batches = N / BATCH
    let b = 0
    // 1: 10,000 at full speed (concurrent batches keep their order in the WAL); stop the
    // server while the drain has PubAcks outstanding
    const first = Promise.all(Array.from({ length: 100 }, (_, k) => take(k)))
    // Any publish without its PubAck yet will do: between a send and its PubAck the event loop
    // always goes round at least once, so a check on every turn sees it while the drain works.
    // (A threshold of 100 in flight was missed on a busy machine, where the drain kept up with
    // the intake a few records at a time.)
    const midStream = () => {
      const d = sc.status().drain
      return d.stored >= 1_000 && d.inFlight > 0
    }
    const deadline = Date.now() + 120_000
    while (!midStream() && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    const inFlightAtStop = sc.status().drain.inFlight
    expect(midStream(), `the drain was seen mid-stream (stored ${sc.status().drain.stored}, in flight ${inFlightAtStop})`).toBe(true)
    const stopped = Date.now()
    await nats.stop()
    await first
    b = 100
    // 2: 30,000 while the bus is down, spread over the outage
    for (; b < 400; b++) {
      await take(b)
      if (b % 10 === 0) await pace(250)
    }
    const depthDuringOutage = sc.status().wal.depthRecords
    const outageLeft = 10_000 - (Date.now() - stopped)
    if (outageLeft > 0) await pace(outageLeft)
    expect(sc.status().connected).toBe(false)
    await nats.start()
    // 3: the last 10,000 as it comes back
    for (; b < batches; b++) await take(b)
    expect(accepted).toBe(N)
    expect(depthDuringOutage).toBeGreaterThan(20_000) // it really buffered
    expect(inFlightAtStop).toBeGreaterThan(0) // and publishes were cut off mid-flight

    const check = await nats.connect()
    try {
      await waitFor('50,000 facts in FACTS', async () => (await streamCount(check, 'FACTS')) >= N || undefined, 180_000, 250)
      // Nothing left in the sidecar that could still be stored (a duplicate would be): the count is final.
      await waitFor(
        'the sidecar to have nothing left to send',
        () => {
          const s = sc.status()
          return (s.wal.depthRecords === 0 && s.drain.inFlight === 0) || undefined
        },
        120_000,
        100,
      )
      const stored = await readStream(check, 'FACTS', 'ben.fact.*.out-1')
      expect(stored.length).toBe(N)
      expect(new Set(stored.map((m) => m.fact.id)).size).toBe(N)
      const values = stored.map((m) => (m.fact.kind === 'metric' ? m.fact.payload.value : -1))
      expect(values).toEqual(Array.from({ length: N }, (_, i) => i)) // exactly once, in order
      const s = sc.status()
      expect(s.drain.resyncs).toBeGreaterThanOrEqual(1)
      // what landed before the stop is found in the stream (reconciled) or comes back `duplicate`: not stored twice
      expect(s.drain.stored).toBeLessThanOrEqual(N)
      expect(s.drain.stored + s.drain.duplicates + s.drain.reconciled).toBeGreaterThanOrEqual(N)
      expect(s.wal.depthRecords).toBe(0)
    } finally {
      await sc.close()
      await nc.close()
      await check.close()
    }
  })
})
