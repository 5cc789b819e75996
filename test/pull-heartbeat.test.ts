import { describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { consumeFacts, DeadLetters, FactPublisher, PULL_HEARTBEAT_MS } from '../streams/index.js'
import { FactCodec } from '../schemas/index.js'
import { startTestNats, waitFor } from './support/servers.js'

/**
 * A pull the server dropped (a stream leader change in a cluster) is only noticed through missed
 * idle heartbeats. With nats.js's default (half the 30 s pull expiry) the facts projector sat idle
 * ~29 s after the DERIVED leader was killed (test/cluster.test.ts); Ben's pulls ask for a 5 s
 * heartbeat. Checked on the wire: the pull requests the server receives.
 */
describe('pull consumers ask for a short idle heartbeat', () => {
  it('every pull request of consumeFacts carries idle_heartbeat of PULL_HEARTBEAT_MS', async () => {
    const nats = await startTestNats()
    const spy = await connect({ servers: nats.server.url })
    try {
      const pulls: Array<{ idle_heartbeat?: number; expires?: number }> = []
      const sub = spy.subscribe('$JS.API.CONSUMER.MSG.NEXT.DERIVED.>', { callback: (_e, m) => void pulls.push(m.json()) })
      await spy.flush()
      const codec = new FactCodec()
      const dlq = new DeadLetters(new FactPublisher(nats.nc, nats.subjects, codec), nats.subjects, codec, 'heartbeat-test')
      const s = consumeFacts(nats.nc, codec, nats.subjects, { stream: 'DERIVED', durable: 'heartbeat-test', stage: 'heartbeat-test', dlq, ackAll: true }).subscribe()
      try {
        await waitFor('a pull request', () => pulls.length > 0 || undefined, 60_000, 50)
      } finally {
        s.unsubscribe()
        sub.unsubscribe()
      }
      expect(PULL_HEARTBEAT_MS).toBeLessThanOrEqual(5_000)
      for (const p of pulls) {
        expect(p.idle_heartbeat).toBe(PULL_HEARTBEAT_MS * 1_000_000)
        // Two missed heartbeats fit well inside one pull's life.
        expect(p.expires! / 1_000_000).toBeGreaterThanOrEqual(4 * PULL_HEARTBEAT_MS)
      }
    } finally {
      await spy.close()
      await nats.stop()
    }
  })
})
