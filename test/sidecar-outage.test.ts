/**
 * The bus goes away: nats-server is paused and killed with publishes in flight, and started again
 * 10 s later (same port, same store) while the sidecar takes 50,000 facts. Everything buffers in the WAL, and every fact
 * reaches FACTS exactly once, in the order it was accepted.
 *
 * And the bus wedges, then is replaced: the drain owns every resend. When it gives up on what it
 * has in flight (a PubAck overdue, a disconnect), nothing of it may be sent again by anyone else.
 * CI caught the case the second test forces: the oldest facts in flight timed out on a stalled
 * server, the drain resynchronised, and the publisher under it still held the younger ones; on the
 * reconnect it sent those again at once, so they were stored ahead of the older ones the drain
 * resent after its probe.
 */
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Sidecar } from '../sidecar/index.js'
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
/** n metric facts valued from, from + 1, …: the value is the order they were accepted in. */
const series = (from: number, n: number) => Array.from({ length: n }, (_, j) => ({ lane: 'metric', ts: TS + from + j, name: 'cpu.load', value: from + j, labels: {} }))
const batch = (b: number) => series(b * BATCH, BATCH)
/** Paces the input over the outage (the scenario's timing, not a wait for a condition). */
const pace = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Once the sidecar has nothing left that could still be stored: its facts' values as FACTS holds them, in stream order. */
async function storedValues(sc: Sidecar, check: NatsConnection, id: string): Promise<number[]> {
  await waitFor(
    'the sidecar to have nothing left to send',
    () => {
      const s = sc.status()
      return (s.wal.depthRecords === 0 && s.drain.inFlight === 0) || undefined
    },
    120_000,
    50,
  )
  const stored = await readStream(check, 'FACTS', `ben.fact.*.${id}`)
  return stored.map((m) => (m.fact.kind === 'metric' ? m.fact.payload.value : -1))
}

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
    // 1: 10,000 at full speed (concurrent batches keep their order in the WAL). Once the drain
    // has stored 1,000, the server is paused (SIGSTOP): what the drain sends from then on gets no
    // PubAck. Then it is killed, with those publishes in flight. (Waiting instead for a moment
    // when the event loop shows PubAcks outstanding missed them: a fast drain sent and had its
    // PubAcks answered within one turn of the loop, 10,000 of them before a check saw one.)
    const first = Promise.all(Array.from({ length: 100 }, (_, k) => take(k)))
    await waitFor('the drain to store 1,000 facts', () => sc.status().drain.stored >= 1_000 || undefined, 120_000, 5)
    process.kill(nats.pid!, 'SIGSTOP')
    const stopped = Date.now()
    await first
    b = 100
    // Whatever the drain had left of the 10,000 is in flight now; if it had none, the next batches are.
    await waitFor(
      'publishes in flight to the paused server',
      async () => {
        if (sc.status().drain.inFlight > 0) return true
        await take(b++)
        return undefined
      },
      120_000,
      10,
    )
    const inFlightAtStop = sc.status().drain.inFlight
    await nats.kill()
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
      const values = await storedValues(sc, check, 'out-1')
      expect(values).toEqual(Array.from({ length: N }, (_, i) => i)) // exactly once (the values are distinct), in order
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

describe('sidecar order when PubAcks time out on a wedged server', () => {
  it('the younger facts still in flight are not stored ahead of the older ones that timed out', async () => {
    await nats?.remove()
    nats = await startRestartableNats()
    const nc: NatsConnection = await nats.connect()
    // A short PubAck timeout, so that the oldest in flight time out while the server is paused;
    // no reconcile, so that only the probe and the duplicate window decide what is sent again.
    const sc = await createSidecar({
      id: 'ord-1',
      nats: nc,
      walDir: join(dir.path, 'wal-order'),
      keyPair: generateKeyPair('sidecar'),
      manifest: defaultManifest(),
      registerKey: false,
      drain: { ackTimeoutMs: 1_000, retryMinMs: 50, reconcile: false },
    })
    try {
      await sc.online
      const take = async (from: number, n: number) => {
        const r = await sc.accept(series(from, n))
        expect(r.rejected).toEqual([])
      }
      await take(0, 50)
      const check = await nats.connect()
      try {
        await waitFor('the first 50 in FACTS', async () => (await streamCount(check, 'FACTS')) >= 50 || undefined, 120_000, 50)
        // Wedge the server: what is sent now is never answered.
        const pid = nats.pid!
        process.kill(pid, 'SIGSTOP')
        try {
          const older = sc.status().drain.resyncs
          await take(50, 50)
          await waitFor('the older 50 in flight', () => sc.status().drain.inFlight >= 50 || undefined, 120_000, 10)
          // The younger ones go out half a timeout later, while the older ones are still awaited
          // (pacing of the scenario, not a wait for a condition: on a machine so slow that the older
          // ones time out first, the younger are not sent before the resync and the case is weaker, not wrong)
          await pace(500)
          await take(100, 50)
          await waitFor('the older ones to time out (the drain resynchronises)', () => sc.status().drain.resyncs > older || undefined, 120_000, 10)
        } finally {
          await nats.kill()
        }
        await nats.start()
        await waitFor('150 facts in FACTS', async () => (await streamCount(check, 'FACTS')) >= 150 || undefined, 120_000, 50)
        expect(await storedValues(sc, check, 'ord-1')).toEqual(Array.from({ length: 150 }, (_, i) => i)) // exactly once, in order
      } finally {
        await check.close()
      }
    } finally {
      await sc.close()
      await nc.close()
    }
  }, 300_000)
})
