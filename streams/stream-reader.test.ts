import { describe, expect, it } from 'vitest'
import { MsgHdrsImpl } from '@nats-io/nats-core/internal'
import { ackInfo, LazyHeaders } from './stream-reader.js'

const enc = (s: string) => Buffer.from(s, 'utf8')

describe('LazyHeaders', () => {
  // header blocks as nats.js and other clients write them (names are matched exactly, first value, trimmed)
  const blocks = [
    'NATS/1.0\r\nNats-Msg-Id: web-1:abc\r\nBen-Schema: ben.Metric\r\nBen-Schema-Fp: 0123abcd\r\n\r\n',
    'NATS/1.0\r\nBen-Schema-Fp:   spaced value  \r\nBen-Schema-Fp: second\r\n\r\n',
    'NATS/1.0\r\nben-schema-fp: lower\r\nX-Ben-Schema-Fp: prefixed\r\n\r\n',
    'NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 42\r\nNats-Last-Stream: 77\r\n\r\n',
    'NATS/1.0\r\nNats-Msg-Id: é-ü:1\r\n\r\n',
    'NATS/1.0\r\n\r\n',
  ]
  const names = ['Ben-Schema-Fp', 'Nats-Msg-Id', 'Ben-Schema', 'Nats-Last-Consumer', 'Nats-Last-Stream', 'Missing']
  for (const b of blocks) {
    it(`reads what MsgHdrs.get reads from ${JSON.stringify(b.slice(0, 40))}…`, () => {
      const lazy = new LazyHeaders(enc(b))
      const full = MsgHdrsImpl.decode(enc(b))
      for (const n of names) expect(lazy.get(n)).toBe(full.get(n))
    })
  }
})

describe('ackInfo', () => {
  const out = new Float64Array(4)
  it('reads stream seq, consumer seq, time and pending from the old reply form', () => {
    expect(ackInfo(enc('$JS.ACK.FACTS.abcDEF123.1.98765.4321.1733300000123456789.17'), out)).toBe(true)
    expect([...out]).toEqual([98765, 4321, Number('1733300000123456789'), 17])
  })
  it('reads them from the form with domain, account hash and a random token', () => {
    expect(ackInfo(enc('$JS.ACK.hub.ACCHASH.DERIVED.cons.1.12.3.1733300000000000000.0.rnd42'), out)).toBe(true)
    expect([...out]).toEqual([12, 3, Number('1733300000000000000'), 0])
  })
  it('refuses what is not a JetStream delivery (flow control, inboxes)', () => {
    expect(ackInfo(enc('$JS.FC.FACTS.cons.abcd'), out)).toBe(false)
    expect(ackInfo(enc('_INBOX.abcdefghijklmnopqrstuv'), out)).toBe(false)
    expect(ackInfo(enc('$JS.ACK.FACTS.cons.1.2'), out)).toBe(false)
  })
})
