/**
 * The sidecar keeps a source's order across a wedged server that is then replaced. The drain
 * owns every resend: when it gives up on what it has in flight (a PubAck overdue, a disconnect),
 * nothing of it may be sent again by anyone else. CI caught the case this test forces: the
 * oldest facts in flight timed out on a stalled server, the drain resynchronised, and the
 * publisher under it still held the younger ones; on the reconnect it sent those again at once,
 * so they were stored ahead of the older ones the drain resent after its probe.
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

const TS = 1_763_700_000_000
const facts = (from: number, n: number) => Array.from({ length: n }, (_, j) => ({ lane: 'metric', ts: TS + from + j, name: 'cpu.load', value: from + j, labels: {} }))

/** Paces the scenario (not a wait for a condition). */
const pace = (ms: number) => new Promise((r) => setTimeout(r, ms))

let nats: RestartableNats | undefined
const dir = tempDir('ben-sidecar-order-')
afterAll(async () => {
  await nats?.remove()
  dir.remove()
})

describe('sidecar order when PubAcks time out on a wedged server', () => {
  it('the younger facts still in flight are not stored ahead of the older ones that timed out', async () => {
    nats = await startRestartableNats()
    const nc: NatsConnection = await nats.connect()
    // A short PubAck timeout, so that the oldest in flight time out while the server is paused;
    // no reconcile, so that only the probe and the duplicate window decide what is sent again.
    const sc = await createSidecar({
      id: 'ord-1',
      nats: nc,
      walDir: join(dir.path, 'wal'),
      keyPair: generateKeyPair('sidecar'),
      manifest: defaultManifest(),
      registerKey: false,
      drain: { ackTimeoutMs: 1_000, retryMinMs: 50, reconcile: false },
    })
    try {
      await sc.online
      const take = async (from: number, n: number) => {
        const r = await sc.accept(facts(from, n))
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
        await waitFor(
          'the sidecar to have nothing left to send',
          () => {
            const s = sc.status()
            return (s.wal.depthRecords === 0 && s.drain.inFlight === 0) || undefined
          },
          120_000,
          50,
        )
        const stored = await readStream(check, 'FACTS', 'ben.fact.*.ord-1')
        const values = stored.map((m) => (m.fact.kind === 'metric' ? m.fact.payload.value : -1))
        expect(values).toEqual(Array.from({ length: 150 }, (_, i) => i)) // exactly once, in order
      } finally {
        await check.close()
      }
    } finally {
      await sc.close()
      await nc.close()
    }
  }, 300_000)
})
