import { describe, expect, it } from 'vitest'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { ackFrame as frameAt, plainPubAckSeq, readPubAcks } from './pub-acks.js'
import { parsePubAck } from './publisher.js'

const b = (s: string) => Buffer.from(s, 'latin1')
const prefix = b('_INBOX.Zq9abc.')
const ackFrame = (x: Buffer, at: number, p: Buffer) => frameAt(x, at, x.length, p)

describe('plainPubAckSeq', () => {
  it('reads the seq of the PubAcks of stored messages as nats-server writes them, as parsePubAck does', () => {
    for (const text of ['{"stream":"FACTS", "seq":1}', '{"stream":"FACTS","seq":123456789}', '{"stream":"S", "domain":"hub", "seq":42}', '{"stream":"S","seq": 7}']) {
      const seq = plainPubAckSeq(b(text), 0, text.length)
      expect(seq, text).toBeGreaterThan(0)
      expect(parsePubAck(b(text)), text).toEqual({ seq, duplicate: false })
    }
    // a view in a larger buffer
    const within = b('xx{"stream":"S", "seq":9}yy')
    expect(plainPubAckSeq(within, 2, within.length - 2)).toBe(9)
  })
  it('leaves everything else to parsePubAck: duplicates, errors, other shapes', () => {
    for (const text of [
      '{"stream":"S", "seq":1,"duplicate": true}',
      '{"duplicate":true,"stream":"S","seq":42}',
      '{"stream":"S","seq":7,"duplicate":false}',
      '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}',
      '{"stream":"S", "seq":}',
      '{"stream":"S", "seq":12a}',
      '{"stream":"S\\"x", "seq":1}',
      '{"stream":"S", "seq":1} ',
      '{"stream":"S", "seq":1234567890123456}',
      '{"stream":"S"}',
      'nonsense',
      '',
    ])
      expect(plainPubAckSeq(b(text), 0, text.length), text).toBe(-1)
  })
})

describe('ackFrame', () => {
  // nats-server 2.9 writes an empty reply subject (two spaces before the size)
  const msg = (token: number | string, sid: number | string, body: string, reply = '') => `MSG _INBOX.Zq9abc.${token} ${sid} ${reply} ${body.length}\r\n${body}\r\n`
  it('reads a whole PubAck frame of the inbox: token, sid, seq and where the next message starts', () => {
    const one = msg(4097, 3, '{"stream":"FACTS", "seq":88}')
    const two = b(one + msg(4098, 3, '{"stream":"FACTS", "seq":89}'))
    const f = ackFrame(two, 0, prefix)
    expect(f).toMatchObject({ token: 4097, sid: 3, seq: 88, size: 28, next: one.length })
    expect(ackFrame(two, one.length, prefix)).toMatchObject({ token: 4098, sid: 3, seq: 89, next: two.length })
    // the reply subject left out (one space)
    expect(ackFrame(b('MSG _INBOX.Zq9abc.5 3 27\r\n{"stream":"FACTS", "seq":1}\r\n'), 0, prefix)).toMatchObject({ token: 5, sid: 3, seq: 1 })
  })
  it('is not one for anything nats.js must read: a cut frame, a reply subject, headers, another inbox, a duplicate, PING', () => {
    const whole = msg(1, 3, '{"stream":"FACTS", "seq":88}')
    for (let cut = 1; cut < whole.length; cut++) expect(ackFrame(b(whole.slice(0, cut)), 0, prefix), `cut at ${cut}`).toBeUndefined()
    expect(ackFrame(b(whole), 0, prefix)).toBeDefined()
    expect(ackFrame(b(msg(1, 3, '{"stream":"FACTS", "seq":88}', '_INBOX.reply')), 0, prefix)).toBeUndefined()
    expect(ackFrame(b('HMSG _INBOX.Zq9abc.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n'), 0, prefix)).toBeUndefined()
    expect(ackFrame(b(msg(1, 3, '{"stream":"FACTS", "seq":88}').replace('Zq9abc', 'Other0')), 0, prefix)).toBeUndefined()
    expect(ackFrame(b(msg(1, 3, '{"stream":"FACTS", "seq":88,"duplicate": true}')), 0, prefix)).toBeUndefined()
    expect(ackFrame(b(msg('1x', 3, '{"stream":"FACTS", "seq":88}')), 0, prefix)).toBeUndefined()
    expect(ackFrame(b(msg(1, 3, '{"stream":"FACTS", "seq":88}').replace('  28\r\n', '  27\r\n')), 0, prefix)).toBeUndefined()
    expect(ackFrame(b('PING\r\n'), 0, prefix)).toBeUndefined()
  })
})

describe('readPubAcks', () => {
  /** A connection whose parser keeps what it is given (and stays between messages, as after whole ones). */
  function connection() {
    const sub = { sid: 3, received: 0, max: undefined }
    const log: string[] = []
    const protocol = {
      parser: { state: 0, parse: (buf: Uint8Array) => void log.push(Buffer.from(buf).toString('latin1')) },
      inMsgs: 0,
      inBytes: 0,
      subscriptions: { get: (sid: number) => (sid === 3 ? sub : undefined) },
    }
    return { nc: { protocol } as unknown as NatsConnection, protocol, sub, log }
  }
  const frame = (token: number, body: string) => `MSG _INBOX.Zq9abc.${token} 3  ${body.length}\r\n${body}\r\n`

  it('reads the plain PubAcks and hands nats.js everything else, in order, wherever the reads cut the bytes', () => {
    const frames = [
      frame(1, '{"stream":"FACTS", "seq":10}'),
      frame(2, '{"stream":"FACTS", "seq":11}'),
      frame(3, '{"stream":"FACTS", "seq":12,"duplicate": true}'),
      frame(4, '{"stream":"FACTS", "seq":13}'),
      'PING\r\n',
      frame(5, '{"stream":"FACTS", "seq":14}'),
      `MSG other.subject 3  2\r\nhi\r\n`,
      frame(6, '{"stream":"FACTS", "seq":15}'),
    ]
    const stream = b(frames.join(''))
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const second of [stream.length, cut + 1, cut + 90]) {
        const { nc, protocol, sub, log } = connection()
        const reading = readPubAcks(nc, { prefix, sub: sub as unknown as Subscription, stored: (t, seq) => void log.push(`ack ${t} ${seq}`) })!
        for (const [from, to] of [
          [0, cut],
          [cut, second],
          [second, stream.length],
        ])
          if (to > from) protocol.parser.parse(stream.subarray(from, Math.min(to, stream.length)))
        // what was read here and what nats.js was given make the stream again, in order
        const frameOf = (token: string) => frames.find((f) => f.startsWith(`MSG _INBOX.Zq9abc.${token} `))!
        const again = log.map((l) => (l.startsWith('ack ') ? frameOf(l.split(' ')[1]) : l)).join('')
        expect(again, `reads cut at ${cut}, ${second}`).toBe(stream.toString('latin1'))
        for (const l of log.filter((x) => x.startsWith('ack '))) expect(Number(l.split(' ')[2])).toBe(Number(l.split(' ')[1]) + 9)
        expect(log.filter((x) => x.startsWith('ack ')).length).toBe(reading.read)
        expect(protocol.inMsgs).toBe(reading.read)
        expect(sub.received).toBe(reading.read)
        // the PubAcks before the duplicate are read here, whole or cut by a read (the cut start held for the next)
        expect(log.slice(0, 2), `reads cut at ${cut}, ${second}`).toEqual(['ack 1 10', 'ack 2 11'])
        reading.stop()
      }
    }
  })

  it('holds back only a frame cut by the end of a read: a whole one that is not a plain PubAck goes to nats.js at once', () => {
    const { nc, protocol, sub, log } = connection()
    readPubAcks(nc, { prefix, sub: sub as unknown as Subscription, stored: (t, seq) => void log.push(`ack ${t} ${seq}`) })
    const dup = frame(2, '{"stream":"FACTS", "seq":11,"duplicate": true}')
    protocol.parser.parse(b(frame(1, '{"stream":"FACTS", "seq":10}') + dup))
    expect(log).toEqual(['ack 1 10', dup])
    const third = frame(3, '{"stream":"FACTS", "seq":12}')
    protocol.parser.parse(b(third.slice(0, 20)))
    expect(log).toHaveLength(2)
    protocol.parser.parse(b(third.slice(20) + 'PING\r\n'))
    expect(log).toEqual(['ack 1 10', dup, 'ack 3 12', 'PING\r\n'])
  })
})
