/**
 * The door checks of schemas/limits.ts against a running `ben up` (real nats-server + chDB):
 * raw NATS publishes, JSON and Avro, that would be stored rewritten (invalid UTF-8, ts after
 * 2299), impersonate another name (zero-width, bidi, look-alike source names) or move event
 * time ahead of arrival (BEN_MAX_FUTURE_SKEW) are dead-lettered by scrub with their reason code;
 * the series a future timestamp used to blind goes on being accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { decodeWith, defaultRegistry, FactCodec, Header, parseEdgeFact, type DeadLetter, type RawFact } from '../schemas/index.js'
import { ben, benUp, queryWhenReady, type Background } from './support/cli.js'
import { fetchCounted, tempDir, waitFor } from './support/servers.js'

const codec = new FactCodec()
const enc = new TextEncoder()

function avro(nc: NatsConnection, subject: string, fact: RawFact) {
  const e = codec.encode(fact)
  const h = headers()
  h.set(Header.Schema, e.schema)
  h.set(Header.SchemaFp, e.fingerprint)
  return jetstream(nc).publish(subject, e.data, { headers: h })
}
const metric = (source: string, ts: number, value = 1): RawFact => {
  const r = parseEdgeFact({ lane: 'metric', source: 'placeholder', ts: 1, name: 'cpu.load', value })
  if (!r.ok) throw new Error(r.error.message)
  return { ...r.value, id: `door-${source.length}-${ts}-${value}`, source, ts } as RawFact
}

describe('door checks on raw NATS publishes, through scrub', () => {
  const home = tempDir('ben-door-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1', BEN_MAX_FUTURE_SKEW: '1m' }
  let up: Background
  let nc: NatsConnection

  beforeAll(async () => {
    up = await benUp(env)
    nc = await connect({ servers: up.endpoints().natsUrl })
  })
  afterAll(async () => {
    await nc?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  it('dead-letters what would be rewritten or impersonate another name, with the reason; valid facts go on', async () => {
    const js = jetstream(nc)
    const now = Date.now()
    const json = (o: object) => enc.encode(JSON.stringify(o))
    // invalid UTF-8 (0xC3 0x28) inside a JSON string
    const badUtf8 = Buffer.concat([Buffer.from(`{"lane":"event","source":"web-7","ts":${now},"type":"t","message":"ab`), Buffer.from([0xc3, 0x28]), Buffer.from('","attrs":{}}')])
    await js.publish('ben.fact.event.web-7', badUtf8)
    await js.publish('ben.fact.metric.w\u0435b-7', json({ ts: now, name: 'cpu.load', value: 1 })) // Cyrillic е
    await avro(nc, 'ben.fact.metric.web\u200b-7', metric('web\u200b-7', now)) // zero-width space
    await avro(nc, 'ben.fact.metric.web-7', metric('web-7', Date.UTC(2300, 0, 1))) // after DateTime64
    await avro(nc, 'ben.fact.metric.web-7', metric('web-7', now + 3_600_000)) // an hour ahead
    // a future sample used to blind its series for good; BEN_MAX_FUTURE_SKEW=1m refuses 2 minutes ahead
    await js.publish('ben.fact.metric.web-7', json({ ts: now + 120_000, name: 'cpu.load', value: 5 }))
    for (let i = 0; i < 5; i++) await js.publish('ben.fact.metric.web-7', json({ ts: now + i, name: 'cpu.load', value: 1 + i / 10 }))
    await js.publish('ben.fact.event.web-7', json({ ts: now, type: 't', message: 'caf\u00e9 \u4e2d\u6587 ok', attrs: {} }))

    const jsm = await jetstreamManager(nc)
    await waitFor(
      'six dead letters from scrub',
      async () => ((await jsm.streams.info('DLQ', { subjects_filter: 'ben.dlq.scrub' })).state.subjects?.['ben.dlq.scrub'] === 6 ? true : undefined),
      60_000,
      200,
    )
    const letters: DeadLetter[] = []
    const c = await jetstream(nc).consumers.get('DLQ')
    await fetchCounted(
      "scrub's six dead letters",
      c,
      () => letters.length >= 6,
      (m) => {
        const r = decodeWith(defaultRegistry(), m.data, m.headers?.get(Header.SchemaFp))
        if (r.ok && (r.value as DeadLetter).stage === 'scrub') letters.push(r.value as DeadLetter)
      },
    )
    const by = (subject: string, reason: string) => letters.filter((l) => l.subject === subject && l.reason === reason)
    expect(by('ben.fact.event.web-7', 'invalid_text')[0]?.message).toMatch(/^message: holds U\+FFFD at position 2/)
    expect(Buffer.from(by('ben.fact.event.web-7', 'invalid_text')[0].data)).toEqual(badUtf8) // the original bytes, not the replaced ones
    expect(by('ben.fact.metric.w\u0435b-7', 'bad_name')[0]?.message).toMatch(/U\+0435 .*can pass for another name/)
    expect(by('ben.fact.metric.web\u200b-7', 'bad_name')[0]?.message).toMatch(/zero-width/)
    expect(by('ben.fact.metric.web-7', 'invalid').map((l) => l.message)).toEqual([expect.stringMatching(/after 2299-12-31.*DateTime64/)])
    expect(by('ben.fact.metric.web-7', 'future_ts').map((l) => l.message)).toEqual([
      expect.stringMatching(/more than the allowed skew of 60 s/),
      expect.stringMatching(/more than the allowed skew of 60 s/),
    ])

    const byKind = (v: Array<Record<string, unknown>>) => v.map((x) => [String(x.kind), Number(x.n)] as const)
    const rows = byKind(
      await queryWhenReady(env, "SELECT kind, count() AS n FROM facts WHERE source = 'web-7' GROUP BY kind ORDER BY kind", (v) => v.length === 2 && byKind(v)[1][1] === 5),
    )
    expect(rows).toEqual([
      ['event', 1],
      ['metric', 5],
    ])
    const message = await ben(['query', "SELECT message FROM facts WHERE source = 'web-7' AND kind = 'event'", '--format', 'json'], env)
    expect(JSON.parse(message.stdout)).toEqual([{ message: 'caf\u00e9 \u4e2d\u6587 ok' }])
    // the series was not blinded: detect dead-lettered none of the samples stamped now
    expect((await jsm.streams.info('DLQ', { subjects_filter: 'ben.dlq.detect' })).state.subjects?.['ben.dlq.detect'] ?? 0).toBe(0)
  })
})
