import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { headers } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { decodeWith, defaultRegistry, FactCodec, Header, type DeadLetter } from '../schemas/index.js'
import { DeadLetters, FactPublisher } from '../streams/index.js'
import { factsProjection, migrate, Projector } from '../projections/index.js'
import { fetchCounted, openTestClickHouse, startTestNats, waitFor, type TestNats } from './support/servers.js'
import { metricFact, metricFacts } from './support/facts.js'
import type { Warehouse } from '../infra/index.js'

const N = 100_000

describe('the fact log: publisher → FACTS → projector → ClickHouse', () => {
  let nats: TestNats
  let wh: Warehouse & { removeDir(): void }
  let projector: Projector
  let publisher: FactPublisher
  const codec = new FactCodec()

  const count = async () => {
    const rs = await wh.client.query({ query: 'SELECT count() AS c, uniqExact(id) AS u FROM facts', format: 'JSONEachRow' })
    const [row] = await rs.json<{ c: string; u: string }>()
    return { rows: Number(row.c), unique: Number(row.u) }
  }

  beforeAll(async () => {
    nats = await startTestNats()
    wh = await openTestClickHouse()
    await migrate(wh.client)
    publisher = new FactPublisher(nats.nc, nats.subjects, codec)
    projector = new Projector(factsProjection(), wh.client)
    await projector.start(nats.nc, codec, nats.subjects, nats.topo, new DeadLetters(publisher, nats.subjects, codec, 'project-facts'))
  })

  afterAll(async () => {
    await projector?.stop()
    await publisher?.close()
    await wh?.close()
    wh?.removeDir()
    await nats?.stop()
  })

  it(`stores ${N.toLocaleString()} facts once, and a republish of all of them changes nothing`, async () => {
    const first = await publisher.publishAll(metricFacts(N))
    expect(first).toMatchObject({ stored: N, duplicate: 0, failed: 0 })
    // About a minute quietly; minutes at load 9 on two cores: the deadline only catches a stall.
    await waitFor('all rows projected', async () => (await count()).rows === N || undefined, 360_000, 250)

    const again = await publisher.publishAll(metricFacts(N))
    expect(again).toMatchObject({ stored: 0, duplicate: N, failed: 0 })
    const info = await (await jetstreamManager(nats.nc)).streams.info('FACTS')
    expect(info.state.messages).toBe(N)
    await projector.flush()
    expect(await count()).toEqual({ rows: N, unique: N })
  }, 900_000)

  it('sends malformed input on the wire to the DLQ with its reason and keeps projecting', async () => {
    const js = jetstream(nats.nc)
    const good = metricFact(10_000_001, 'dlq-src')
    const enc = codec.encode(good)
    const h = (fp: string) => {
      const x = headers()
      x.set(Header.SchemaFp, fp)
      return x
    }
    await js.publish('ben.fact.metric.dlq-src', new TextEncoder().encode('{"lane":"metric","source":"dlq-src","ts":"yesterday"}'))
    await js.publish('ben.fact.metric.dlq-src', new TextEncoder().encode('not json at all'))
    await js.publish('ben.fact.metric.dlq-src', enc.data.slice(0, enc.data.length - 3), { headers: h(enc.fingerprint) })
    await js.publish('ben.fact.metric.dlq-src', enc.data, { headers: h('00000000deadbeef') })
    await js.publish('ben.fact.metric.other-src', enc.data, { headers: h(enc.fingerprint) })
    // valid facts after the bad ones still arrive
    await js.publish('ben.fact.metric.dlq-src', new TextEncoder().encode('{"lane":"metric","source":"dlq-src","ts":1763700000000,"name":"ok","value":1}'))
    await publisher.publish(good)

    await waitFor('valid facts after bad ones projected', async () => (await count()).rows === N + 2 || undefined, 180_000)

    const jsm = await jetstreamManager(nats.nc)
    const dlq = await waitFor('5 dead letters', async () => ((await jsm.streams.info('DLQ')).state.messages >= 5 ? true : undefined))
    expect(dlq).toBe(true)
    const consumer = await js.consumers.get('DLQ')
    const decoded: Array<ReturnType<typeof decodeWith>> = []
    await fetchCounted('the 5 dead letters', consumer, 5, (m) => decoded.push(decodeWith(defaultRegistry(), m.data, m.headers?.get(Header.SchemaFp))))
    expect(decoded.map((r) => r.ok)).toEqual([true, true, true, true, true])
    const letters = decoded.flatMap((r) => (r.ok ? [r.value as DeadLetter] : []))
    const reasons = letters.map((l) => l.reason).sort()
    expect(reasons).toEqual(['invalid', 'invalid', 'malformed_avro', 'missing_header', 'unknown_schema'])
    const bad = letters.find((l) => l.reason === 'invalid' && l.message.startsWith('ts'))
    expect(bad?.message).toMatch(/^ts: /)
    expect(Buffer.from(bad!.data).toString()).toContain('"yesterday"')
    expect(letters.every((l) => l.stage === 'project-facts' && l.stream === 'FACTS' && l.seq > 0)).toBe(true)
    expect(letters.find((l) => l.subject === 'ben.fact.metric.other-src')?.message).toMatch(/claims source 'dlq-src'/)
  })
})
