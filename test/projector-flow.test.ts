import { describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { headers } from '@nats-io/nats-core'
import { jetstream } from '@nats-io/jetstream'
import { DeadLetters, FactPublisher } from '../streams/index.js'
import { FactCodec, Header, parseEdgeFact, type Fact, type RawFact } from '../schemas/index.js'
import { factsProjection, migrate, Projector, ROWS_PER_SLICE, type Projection } from '../projections/index.js'
import { openTestClickHouse, startTestNats, waitFor } from './support/servers.js'
import { metricFacts } from './support/facts.js'

/**
 * Issue 8: a projector shares its process's event loop with the stages. It gets the stages'
 * flow control (with three batches in hand it decodes nothing more and pulls no further), and
 * it builds a large batch's rows in slices, letting the event loop go round between them.
 *
 * Real nats-server and real chDB. Inserts are held (not replaced) by a gate in front of the real
 * client, so the projector has a backlog it cannot write yet. Both properties are observed as
 * counts, not times: without flow control the consumer would decode up to max-ack-pending (four
 * batches); without slices, a callback queued when the first row is built runs only after every
 * row of the batch is built.
 */
describe('projector flow control and sliced batches', () => {
  it('holds its consumer at three batches in hand while a write waits, slices row building, and loses nothing', async () => {
    const { nats, wh, codec, publisher, close } = await servers()
    const BATCH = 2 * ROWS_PER_SLICE + 500
    const N = 6 * BATCH
    const { client, release, inserted } = heldInserts(wh.client)
    // The facts projection; counts the rows built before the event loop first goes round in a write.
    const base = factsProjection()
    let built = 0
    let waiting = false
    const turns: number[] = []
    const projection: Projection = Object.assign(Object.create(base) as Projection, {
      toRow(f: Fact, meta: Parameters<Projection['toRow']>[1]) {
        built++
        if (!waiting) {
          waiting = true
          const at = built
          setImmediate(() => {
            turns.push(built - at + 1)
            waiting = false
          })
        }
        return base.toRow(f, meta)
      },
    })
    // Written only when a batch is full (at least BATCH rows a write).
    const projector = new Projector(projection, client, { batchSize: BATCH, flushMs: 600_000 })
    try {
      await migrate(wh.client)
      expect((await publisher.publishAll(metricFacts(N))).stored).toBe(N)
      await projector.start(nats.nc, codec, nats.subjects, nats.topo, new DeadLetters(publisher, nats.subjects, codec, 'project-facts'))
      // Held, or (without flow control) decoding on to max-ack-pending: four batches.
      await waitFor('the consumer to be held or to reach max-ack-pending', () => projector.stats.held > 0 || projector.stats.received >= 4 * BATCH || undefined, 120_000, 20)
      console.log(`projector flow: ${projector.stats.received} received while the first write waits (batch ${BATCH}), held ${projector.stats.held} time(s)`)
      expect(projector.stats.held, 'the consumer was held').toBeGreaterThan(0)
      expect(projector.stats.received, 'at most three batches in hand').toBeLessThanOrEqual(3 * BATCH)
      release()
      const count = async () => {
        const rs = await wh.client.query({ query: 'SELECT count() AS c, uniqExact(id) AS u FROM facts', format: 'JSONEachRow' })
        const [row] = await rs.json<{ c: string; u: string }>()
        return { rows: Number(row.c), unique: Number(row.u) }
      }
      await waitFor('every fact projected', async () => (await count()).rows >= N || undefined, 180_000, 250)
      expect(await count()).toEqual({ rows: N, unique: N })
      console.log(`projector slices: writes of ${inserted.join(', ')} rows; rows built between two turns of the event loop: ${turns.join(', ')}`)
      expect(Math.max(...inserted), 'writes larger than a slice').toBeGreaterThan(ROWS_PER_SLICE)
      // A full batch is cut when it is full, not when the consumer next yields: no write exceeds a batch.
      expect(Math.max(...inserted), 'writes of at most a batch').toBeLessThanOrEqual(BATCH)
      expect(Math.max(...turns), 'the loop went round within a slice of rows, not after the whole batch').toBeLessThanOrEqual(ROWS_PER_SLICE)
    } finally {
      release()
      await close(projector)
    }
  }, 400_000)

  it('writes what arrives while a batch is being written as one batch once that write ends, and loses nothing', async () => {
    const { nats, wh, codec, publisher, close } = await servers()
    const { client, release, inserted, entered } = heldInserts(wh.client)
    const projector = new Projector(factsProjection(), client, { batchSize: 10_000, flushMs: 20 })
    const [a, b, c] = [0, 1, 2].map((k) => [...metricFacts(100, k * 100)])
    try {
      await migrate(wh.client)
      await projector.start(nats.nc, codec, nats.subjects, nats.topo, new DeadLetters(publisher, nats.subjects, codec, 'project-facts'))
      expect((await publisher.publishAll(a)).stored).toBe(100)
      await waitFor('the first batch to be written (and held at the gate)', () => entered() >= 1 || undefined, 120_000, 10)
      expect((await publisher.publishAll(b)).stored).toBe(100)
      // flushMs passed with the first write still held: the second batch goes on filling.
      await waitFor('the second batch past flushMs', () => (projector.stats.received >= 200 && projector.stats.deferred > 0) || undefined, 120_000, 10)
      expect((await publisher.publishAll(c)).stored).toBe(100)
      await waitFor('the third hundred received', () => projector.stats.received >= 300 || undefined, 120_000, 10)
      expect(entered(), 'no second write started while the first is held').toBe(1)
      release()
      await waitFor('every fact written', () => projector.stats.inserted >= 300 || undefined, 120_000, 20)
      console.log(`projector behind: writes of ${inserted.join(', ')} rows; ${projector.stats.deferred} batch(es) deferred past flushMs`)
      // Cut every flushMs, the second and third hundred would each have been queued as a batch of its own.
      expect(inserted, 'the rows that arrived during the held write, written as one batch').toEqual([100, 200])
      const rs = await wh.client.query({ query: 'SELECT count() AS c, uniqExact(id) AS u FROM facts', format: 'JSONEachRow' })
      expect((await rs.json<{ c: unknown; u: unknown }>()).map((r) => [Number(r.c), Number(r.u)])).toEqual([[300, 300]])
    } finally {
      release()
      await close(projector)
    }
  }, 400_000)

  it('gives a fact stored twice in the stream (past the duplicate window) one row, whatever its id holds', async () => {
    // Ids with quotes, backslashes, commas, brackets, JSON's own escapes, spaces and non-ASCII: the
    // edge's JSON takes printable ASCII, a fact published in Avro any valid Unicode.
    const ids = [`it's`, 'say "hi"', 'back\\slash', 'a,b]', '["x"]', '\\u0041', 'café-漢字-🙂', "'); DROP TABLE facts; --"]
    const facts: RawFact[] = ids.map((id, i) => {
      const r = parseEdgeFact({ lane: 'metric', source: 'web-1', ts: 1_763_700_000_000 + i, name: 'cpu.load', value: i })
      if (!r.ok) throw new Error(r.error.message)
      return { ...r.value, id }
    })
    const { nats, wh, codec, publisher, close } = await servers()
    const projector = new Projector(factsProjection(), wh.client, { flushMs: 20 })
    const js = jetstream(nats.nc)
    // Each fact as a message of its own, as a republish after the duplicate window stores it.
    const store = async () => {
      for (const f of facts) {
        const enc = codec.encode(f)
        const h = headers()
        h.set(Header.SchemaFp, enc.fingerprint)
        await js.publish(nats.subjects.fact(f.kind, f.source), enc.data, { headers: h })
      }
    }
    try {
      await migrate(wh.client)
      await projector.start(nats.nc, codec, nats.subjects, nats.topo, new DeadLetters(publisher, nats.subjects, codec, 'project-facts'))
      await store()
      await waitFor('the first copies written', () => projector.stats.inserted >= ids.length || undefined, 120_000, 20)
      await store()
      await waitFor('the second copies looked up', () => projector.stats.received >= 2 * ids.length || undefined, 120_000, 20)
      await projector.flush()
      console.log(`projector, facts stored twice: ${projector.stats.inserted} rows written; ${projector.stats.skippedExisting} found in the table`)
      expect(projector.stats.skippedExisting, 'the second copies were found in the table').toBe(ids.length)
      const rs = await wh.client.query({ query: 'SELECT id, count() AS c FROM facts GROUP BY id', format: 'JSONEachRow' })
      const rows = await rs.json<{ id: string; c: unknown }>()
      expect(new Map(rows.map((r) => [r.id, Number(r.c)]))).toEqual(new Map(ids.map((id) => [id, 1])))
    } finally {
      await close(projector)
    }
  }, 400_000)
})

/** A real nats-server and chDB, and a publisher; `close` stops the projector and all of them. */
async function servers() {
  const nats = await startTestNats()
  const wh = await openTestClickHouse()
  const codec = new FactCodec()
  const publisher = new FactPublisher(nats.nc, nats.subjects, codec)
  return {
    nats,
    wh,
    codec,
    publisher,
    async close(projector: Projector) {
      await projector.stop()
      await publisher.close()
      await wh.close()
      wh.removeDir()
      await nats.stop()
    },
  }
}

/**
 * The real client, its inserts held until `release()`: `entered()` counts the inserts begun,
 * `inserted` the rows of each once it goes through.
 */
function heldInserts(real: ClickHouseClient) {
  let open: () => void = () => undefined
  const gate = new Promise<void>((r) => (open = r))
  let entered = 0
  const inserted: number[] = []
  const client = new Proxy(real, {
    get(target, prop, recv) {
      if (prop === 'insert')
        return async (params: { values: unknown[] }) => {
          entered++
          await gate
          inserted.push(params.values.length)
          return target.insert(params as unknown as Parameters<ClickHouseClient['insert']>[0])
        }
      const v = Reflect.get(target, prop, recv) as unknown
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return { client, release: () => open(), entered: () => entered, inserted }
}
