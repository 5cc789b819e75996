import { describe, expect, it } from 'vitest'
import { DeadLetters, FactPublisher, LatencyPath } from '../streams/index.js'
import { FactCodec } from '../schemas/index.js'
import { factsProjection, migrate, Projector } from '../projections/index.js'
import { consumerSettled, openTestClickHouse, startTestNats, waitFor } from './support/servers.js'
import { metricFacts } from './support/facts.js'
import { scrubRunner } from './support/scrub-runner.js'

/** A latency path that counts the stages' entries. */
class CountingPath extends LatencyPath {
  enters = 0
  override enter(): void {
    this.enters++
    super.enter()
  }
}

/**
 * Issue 8: on a shared event loop, the latency path (scrub → detect → policy → act) goes before
 * the projectors, which wait a bounded time. Behaviour, not timing: the first case holds the
 * latency path busy with a bound far away (as a stage with inputs would) and shows that scrub
 * applies a whole backlog while the projector of scrub's own output has decoded and written
 * nothing, then that the projector writes everything once the path is idle; the second keeps the
 * path busy for good with a short bound and shows the projector still writes everything (never
 * starved). Real nats-server and real chDB.
 */
describe('projectors give way to the latency path', () => {
  const N = 2_000

  async function setUp(path: LatencyPath) {
    const nats = await startTestNats()
    const wh = await openTestClickHouse()
    const codec = new FactCodec()
    const publisher = new FactPublisher(nats.nc, nats.subjects, codec)
    await migrate(wh.client)
    const projector = new Projector(factsProjection({ fromScrubbed: true }), wh.client, { flushMs: 20, latencyPath: path })
    const rows = async () => {
      const rs = await wh.client.query({ query: 'SELECT count() AS c FROM facts', format: 'JSONEachRow' })
      const [row] = await rs.json<{ c: string }>()
      return Number(row.c)
    }
    const close = async () => {
      await projector.stop()
      await publisher.close()
      await wh.close()
      wh.removeDir()
      await nats.stop()
    }
    return { nats, codec, publisher, projector, rows, close, dlq: new DeadLetters(publisher, nats.subjects, codec, 'project-facts') }
  }

  it('waits while a latency-path stage has inputs: scrub applies a whole backlog before the projector of its output decodes anything; then it writes all of it', async () => {
    const path = new CountingPath({ maxDeferMs: 3_600_000 })
    const t = await setUp(path)
    const runner = await scrubRunner(t.nats, t.codec, t.publisher, t.publisher, path)
    try {
      expect((await t.publisher.publishAll(metricFacts(N))).stored).toBe(N)
      path.enter() // the latency path is busy (a stage with inputs), until the test says otherwise
      await t.projector.start(t.nats.nc, t.codec, t.nats.subjects, t.nats.topo, t.dlq)
      await runner.start()
      await waitFor(
        'scrub to apply and settle the backlog',
        async () => runner.stats.applied >= N && (await consumerSettled(t.nats.nc, 'FACTS', 'stage-scrub-routine')),
        120_000,
        50,
      )
      await waitFor('the projector to be waiting for the latency path', () => t.projector.stats.deferred > 0 || undefined, 60_000, 20)
      expect(path.enters, 'scrub entered the latency path while it had inputs').toBeGreaterThan(0)
      expect(t.projector.stats.received, 'nothing decoded while the latency path is busy').toBe(0)
      expect(await t.rows(), 'nothing written while the latency path is busy').toBe(0)
      path.leave()
      await waitFor('every scrubbed fact projected', async () => ((await t.rows()) >= N ? true : undefined), 120_000, 100)
      expect(await t.rows()).toBe(N)
      // scrub's own entries were each left once it had applied everything
      await waitFor('the latency path idle', () => !path.busy || undefined, 60_000, 20)
    } finally {
      path.leave()
      await runner.stop()
      await t.close()
    }
  }, 300_000)

  it('never starves: with the latency path busy for good, each wait ends at its bound and everything is written', async () => {
    const path = new LatencyPath({ maxDeferMs: 5 })
    const t = await setUp(path)
    try {
      path.enter() // and never leaves
      expect((await t.publisher.publishAll(metricFacts(N))).stored).toBe(N)
      // scrub (not on this latency path) writes the projector's input
      await t.projector.start(t.nats.nc, t.codec, t.nats.subjects, t.nats.topo, t.dlq)
      const runner = await scrubRunner(t.nats, t.codec, t.publisher, t.publisher)
      await runner.start()
      try {
        await waitFor('every scrubbed fact projected', async () => ((await t.rows()) >= N ? true : undefined), 180_000, 100)
      } finally {
        await runner.stop()
      }
      expect(await t.rows()).toBe(N)
      expect(path.busy).toBe(true)
      expect(t.projector.stats.deferred, 'the projector waited').toBeGreaterThan(0)
      expect(t.projector.stats.deferredBounded, 'its waits ended at the bound, the latency path still busy').toBe(t.projector.stats.deferred)
    } finally {
      await t.close()
    }
  }, 300_000)
})
