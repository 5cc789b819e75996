import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactCodec, Header, parseEdgeFact, type Fact, type RawFact } from '../schemas/index.js'
import { FactPublisher, factMsgId, type PublishOutcome } from '../streams/index.js'
import { startTestNats, type TestNats } from './support/servers.js'
import { metricFact } from './support/facts.js'

function event(i: number, message: string): RawFact {
  const r = parseEdgeFact({ lane: 'event', source: `web-${i % 3}`, ts: 1_763_700_000_000 + i, type: 'app.log', message, attrs: { user: `u-${i}` } })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

/**
 * The publisher writes each fact's frame itself (Avro bytes and header block straight into a
 * shared chunk): what JetStream stores must be exactly the fact, its Nats-Msg-Id and schema
 * headers, whatever the sizes and however many frames share a write.
 */
describe('the publisher frames facts itself: JetStream stores exactly the facts and their headers', () => {
  let nats: TestNats
  let publisher: FactPublisher
  const codec = new FactCodec()

  beforeAll(async () => {
    nats = await startTestNats()
    publisher = new FactPublisher(nats.nc, nats.subjects, codec, { window: 512 })
  })
  afterAll(async () => {
    await publisher?.close()
    await nats?.stop()
  })

  it('stores every fact of a burst byte for byte, across chunk boundaries, with its headers', async () => {
    // Sizes from a few bytes of text to ~60 KB, so that frames straddle the 256 KiB chunks.
    const facts: Fact[] = []
    for (let i = 0; i < 3000; i++) facts.push(i % 100 === 7 ? event(i, 'x'.repeat(1000 + ((i * 7919) % 60_000))) : i % 2 ? event(i, `GET /items/${i} ünïcødé`) : metricFact(i))
    const seqs = new Map<string, number>()
    const report = await publisher.publishAll(facts, (o: PublishOutcome) => void (o.seq !== undefined && seqs.set(o.id, o.seq)))
    expect(report).toMatchObject({ stored: facts.length, duplicate: 0, failed: 0 })
    const jsm = await jetstreamManager(nats.nc)
    for (const f of facts.filter((_, i) => i % 37 === 0 || i % 100 === 7)) {
      const got = await jsm.streams.getMessage('FACTS', { seq: seqs.get(f.id)! })
      expect(got, `message of ${f.id}`).not.toBeNull()
      const m = got!
      expect(m.subject).toBe(nats.subjects.forFact(f))
      expect(m.header.get(Header.MsgId)).toBe(factMsgId(f))
      const enc = codec.encode(f)
      expect(m.header.get(Header.Schema)).toBe(enc.schema)
      expect(m.header.get(Header.SchemaFp)).toBe(enc.fingerprint)
      expect(Buffer.from(m.data).equals(Buffer.from(enc.data))).toBe(true)
    }
  })

  it('refuses a fact larger than the server takes, says why, and goes on publishing', async () => {
    // Past the edge's own limits too (a stage could make one): built from a valid fact.
    const small = event(1, 'y')
    const huge = { ...small, payload: { ...small.payload, message: 'y'.repeat(publisher.maxPayload + 10) } } as RawFact
    const out = await publisher.publish(huge)
    expect(out).toMatchObject({ status: 'failed', code: 'not_sent' })
    expect(out.error).toMatch(/max payload/)
    expect((await publisher.publish(metricFact(999_999))).status).toBe('stored')
  })
})
