import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { headers as natsHeaders, Match } from '@nats-io/nats-core'
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream'
import { startTestNats, type TestNats } from '../test/support/servers.js'
import { primeInfo, wireHeaders } from './wire.js'

/** Messages as a JetStream pull consumer delivers them, for two readers: the wire one and nats.js's. */
async function delivered(t: TestNats, n: number): Promise<JsMsg[]> {
  const jsm = await jetstreamManager(t.nc)
  await jsm.consumers.add('FACTS', { durable_name: `wire-${n}-${Date.now()}`, ack_policy: AckPolicy.All })
  const name = (await jsm.consumers.list('FACTS').next()).at(-1)!.name
  const c = await jetstream(t.nc).consumers.get('FACTS', name)
  const out: JsMsg[] = []
  for await (const m of await c.fetch({ max_messages: n, expires: 10_000 })) out.push(m)
  return out
}

describe('wire readers (real nats-server)', () => {
  let t: TestNats
  const sent: Array<Record<string, string[]> | undefined> = [
    { 'Ben-Schema': ['ben.Metric'], 'Ben-Schema-Fp': ['ab12cd'], 'Nats-Msg-Id': ['host-1:id-1'] },
    { 'Nats-Msg-Id': ['  padded  '], 'X-Twice': ['one', 'two'], 'x-lower': ['v'] },
    { 'Ben-Schema-Fp': ['ünïcödé ✓'], Empty: [''] },
    undefined,
  ]
  beforeAll(async () => {
    t = await startTestNats()
    const js = jetstream(t.nc)
    let i = 0
    for (const h of sent) {
      const hdrs = h ? natsHeaders() : undefined
      if (h && hdrs) for (const [k, vs] of Object.entries(h)) for (const v of vs) hdrs.append(k, v)
      await js.publish(`ben.fact.metric.host-${i++}`, new Uint8Array([1, 2, 3]), { headers: hdrs, msgID: undefined })
    }
  }, 60_000)
  afterAll(async () => t?.stop())

  it('read the headers nats.js reads, from the bytes', async () => {
    const msgs = await delivered(t, sent.length)
    expect(msgs).toHaveLength(sent.length)
    for (const m of msgs) {
      const w = wireHeaders(m)
      const names = ['Ben-Schema', 'Ben-Schema-Fp', 'Nats-Msg-Id', 'X-Twice', 'x-lower', 'X-Lower', 'Empty', 'Missing', 'Ben-Schema-F']
      const got = names.map((k) => [w?.get(k), w?.has(k), w?.last(k)])
      // nats.js's own decode, after the wire reader answered
      const own = m.headers
      expect(got).toEqual(names.map((k) => [own?.get(k), own?.has(k), own?.last(k)]))
      if (own) {
        expect(w).not.toBe(own) // read off the bytes, not nats.js's decode
        expect(w!.get('x-lower', Match.IgnoreCase)).toBe(own.get('x-lower', Match.IgnoreCase))
        expect(w!.keys()).toEqual(own.keys())
        expect(w!.code).toBe(own.code)
      }
    }
    expect(wireHeaders(msgs[0])?.get('Ben-Schema-Fp')).toBe('ab12cd')
    expect(wireHeaders(msgs[1])?.get('Nats-Msg-Id')).toBe('padded')
    expect(wireHeaders(msgs[1])?.last('X-Twice')).toBe('two')
    expect(wireHeaders(msgs[2])?.get('Ben-Schema-Fp')).toBe('ünïcödé ✓')
    expect(wireHeaders(msgs[3])).toBeUndefined()
  })

  it('fill the delivery info nats.js parses from the ack subject', async () => {
    const msgs = await delivered(t, sent.length)
    for (const m of msgs) {
      primeInfo(m)
      const fast = m.info
      // nats.js's own parse of the same subject
      const own = (m as unknown as { di: unknown; info: unknown }).di
      ;(m as unknown as { di: unknown }).di = undefined
      const ref = m.info
      expect(own).toBe(fast)
      const pick = (i: typeof ref) => ({
        domain: i.domain,
        account_hash: i.account_hash,
        stream: i.stream,
        consumer: i.consumer,
        deliveryCount: i.deliveryCount,
        redelivered: i.redelivered,
        streamSequence: i.streamSequence,
        deliverySequence: i.deliverySequence,
        timestampNanos: i.timestampNanos,
        pending: i.pending,
      })
      expect(pick(fast)).toEqual(pick(ref))
    }
    expect(msgs.map((m) => m.seq)).toEqual([1, 2, 3, 4])
  })

  it('fill the same info for both ack subject forms', () => {
    const forms = ['$JS.ACK.FACTS.c1.2.17.9.1733280000123456789.4', '$JS.ACK.dom.HASH.FACTS.c1.1.17.9.1733280000123456789.0.rand', '$JS.ACK._.HASH.S.c.1.5.6.7.8.x']
    for (const reply of forms) {
      const fast = { reply, di: undefined as unknown } as unknown as JsMsg & { di: Record<string, unknown> }
      primeInfo(fast)
      const tokens = reply.split('.')
      if (tokens.length === 9) tokens.splice(2, 0, '_', '')
      const want = {
        domain: tokens[2] === '_' ? '' : tokens[2],
        account_hash: tokens[3],
        stream: tokens[4],
        consumer: tokens[5],
        deliveryCount: parseInt(tokens[6], 10),
        streamSequence: parseInt(tokens[7], 10),
        deliverySequence: parseInt(tokens[8], 10),
        timestampNanos: parseInt(tokens[9], 10),
        pending: parseInt(tokens[10], 10),
      }
      const d = fast.di
      expect(Object.fromEntries(Object.keys(want).map((k) => [k, d[k]]))).toEqual(want)
    }
    const odd = { reply: '$JS.ACK.a.b.c', di: undefined } as unknown as JsMsg & { di: unknown }
    primeInfo(odd)
    expect(odd.di).toBeUndefined()
  })
})
