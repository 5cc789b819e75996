import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { NatsConnection } from '@nats-io/nats-core'
import { FrameWriter, putString, putUint, type Encoder } from './frames.js'
import { factHeaderBlock, factMsgId } from './publisher.js'
import { FactCodec } from '../schemas/index.js'
import { metricFact } from '../test/support/facts.js'

/**
 * The frame writer writes HPUB frames from parts (bytes, short strings in a loop, digits). These
 * check its bytes against the frames built the plain way — one text line and one header text
 * written by Buffer#write — which is what it wrote before, for any subject, id and payload.
 */

/** A connection whose protocol keeps every buffer the writer hands it. */
function capture(): { nc: NatsConnection; bytes: () => Buffer } {
  const out: Buffer[] = []
  const protocol = { sendCommand: (b: Uint8Array) => void out.push(Buffer.from(b)) }
  return { nc: { protocol } as unknown as NatsConnection, bytes: () => Buffer.concat(out) }
}

const bytesCodec: Encoder<Uint8Array> = {
  encodeInto: (v, buf, pos) => (pos + v.length > buf.length ? buf.length - pos - v.length : (buf.set(v, pos), pos + v.length)),
}

/** The frame as text and Buffer#write, as the writer built it before. */
function plainFrame(subject: string, reply: string, headerText: string, data: Uint8Array): Buffer {
  const h = Buffer.from(headerText, 'latin1')
  const line = Buffer.from(`HPUB ${subject} ${reply} ${h.length} ${h.length + data.length}\r\n`, 'utf8')
  return Buffer.concat([line, h, data, Buffer.from('\r\n')])
}

const anyText = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 70 }), fc.string({ unit: 'binary', maxLength: 70 }))
const HEAD = 'NATS/1.0\r\nNats-Msg-Id: '

describe('FrameWriter', () => {
  it('putString and putUint write what Buffer#write and String() write', () => {
    fc.assert(
      fc.property(anyText, fc.boolean(), (s, latin1) => {
        const a = Buffer.alloc(s.length * 3 + 4)
        const b = Buffer.alloc(s.length * 3 + 4)
        const n = putString(a, 2, s, latin1)
        expect(n).toBe(b.write(s, 2, latin1 ? 'latin1' : 'utf8'))
        expect(a.equals(b)).toBe(true)
      }),
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.nat({ max: Number.MAX_SAFE_INTEGER }),
          fc.constantFrom(0, 9, 10, 99, 100, 999_999_999, 1e9, 2 ** 31 - 1, 2 ** 31, 9_999_999_999, 1e10, Number.MAX_SAFE_INTEGER),
        ),
        (v) => {
          const a = Buffer.alloc(20)
          const n = putUint(a, 1, v)
          expect(a.toString('latin1', 1, 1 + n)).toBe(String(v))
        },
      ),
    )
  })

  it('writes every kind of frame byte for byte as the text-built frame, across chunks', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            subject: anyText,
            inbox: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
            token: fc.nat(),
            idA: anyText,
            idB: fc.option(anyText, { nil: undefined }),
            tail: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
            line: fc.option(fc.tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 30 }), fc.nat()), { nil: undefined }),
            before: fc.nat({ max: 5 }),
            data: fc.uint8Array({ maxLength: 300 }),
            kind: fc.constantFrom('encoded', 'raw', 'lines'),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.nat({ max: 3000 }),
        (frames, repeat) => {
          const { nc, bytes } = capture()
          const w = new FrameWriter(nc, 64 * 1024)
          const expected: Buffer[] = []
          // enough frames to cross a 64 KiB chunk's boundary on most runs
          for (let r = 0; r <= Math.floor(repeat / 100); r++) {
            for (const f of frames) {
              const reply = `${f.inbox}.`
              const replyBytes = Buffer.from(reply, 'utf8')
              const replyText = `${reply}${f.token}`
              const tail = `${f.tail}\r\n\r\n`
              if (f.kind === 'encoded') {
                const id = f.idB === undefined ? f.idA : `${f.idA}:${f.idB}`
                const pos = w.writeEncoded(f.subject, replyBytes, f.token, Buffer.from(HEAD, 'latin1'), f.idA, f.idB, Buffer.from(tail, 'latin1'), bytesCodec, f.data, 1 << 30)!
                const frame = plainFrame(f.subject, replyText, HEAD + id + tail, f.data)
                expected.push(frame)
                expect(Buffer.from(pos.chunk.subarray(pos.h, pos.d)).equals(Buffer.from(HEAD + id + tail, 'latin1'))).toBe(true)
                expect(Buffer.from(pos.chunk.subarray(pos.d, pos.e)).equals(Buffer.from(f.data))).toBe(true)
              } else if (f.kind === 'raw') {
                const h = Buffer.from(HEAD + f.idA + tail, 'latin1')
                w.writeRaw(f.subject, replyBytes, f.token, h, f.data)
                expected.push(plainFrame(f.subject, replyText, HEAD + f.idA + tail, f.data))
              } else {
                // the message inside a larger buffer (a WAL record: its head before it), a line added or not
                const block = Buffer.from(HEAD + f.idA + tail, 'latin1')
                // (after it, bytes of the next record or none; its payload right after its header block, or apart)
                const apart = f.before % 2 === 1 ? 3 : 0
                const src = Buffer.concat([Buffer.alloc(f.before, 7), block, Buffer.alloc(apart, 8), Buffer.from(f.data), Buffer.alloc(f.before, 9)])
                const [name, value] = f.line ?? ['', -1]
                const dataAt = f.before + block.length + apart
                const pos = w.writeStored(
                  f.subject,
                  replyBytes,
                  f.token,
                  src,
                  f.before,
                  f.before + block.length,
                  dataAt,
                  Buffer.from(name, 'latin1'),
                  value,
                  dataAt + f.data.length,
                )!
                const headerText = HEAD + f.idA + f.tail + '\r\n' + (value < 0 ? '' : `${name}${value}\r\n`) + '\r\n'
                expect(Buffer.from(pos.chunk.subarray(pos.h, pos.d)).equals(Buffer.from(headerText, 'latin1'))).toBe(true)
                expected.push(plainFrame(f.subject, replyText, headerText, f.data))
                expect(Buffer.from(pos.chunk.subarray(pos.d, pos.e)).equals(Buffer.from(f.data))).toBe(true)
              }
            }
          }
          w.flush()
          expect(bytes().equals(Buffer.concat(expected))).toBe(true)
        },
      ),
      { numRuns: 60 },
    )
  })

  it("writes a fact's frame as the text-built frame with the fact's header block and Avro bytes", () => {
    const codec = new FactCodec()
    const { nc, bytes } = capture()
    const w = new FrameWriter(nc)
    const expected: Buffer[] = []
    const reply = Buffer.from('_INBOX.Z3kQ9.')
    for (let i = 0; i < 200; i++) {
      const f = metricFact(i, i % 3 === 0 ? `edge_${i}` : `web-${i}`)
      const wr = codec.writer(f.kind)
      const block = factHeaderBlock(factMsgId(f), wr.name, wr.fingerprint)
      const tail = Buffer.from(factHeaderBlock('', wr.name, wr.fingerprint).slice(HEAD.length), 'latin1')
      const subject = `ben.fact.metric.${f.source}`
      expect(w.writeEncoded(subject, reply, i + 1, Buffer.from(HEAD, 'latin1'), f.source, f.id, tail, codec, f, 1 << 20)).toBeDefined()
      expected.push(plainFrame(subject, `_INBOX.Z3kQ9.${i + 1}`, block, codec.encode(f).data))
    }
    w.flush()
    expect(bytes().equals(Buffer.concat(expected))).toBe(true)
  })

  it('refuses a message larger than the max payload and writes nothing', () => {
    const { nc, bytes } = capture()
    const w = new FrameWriter(nc)
    const data = new Uint8Array(100)
    expect(w.writeEncoded('s', Buffer.from('r.'), 1, Buffer.from(HEAD, 'latin1'), 'id', undefined, Buffer.from('\r\n\r\n'), bytesCodec, data, 120)).toBeUndefined()
    w.flush()
    expect(bytes().length).toBe(0)
  })
  it('writes a chunk again only once every frame in it was answered, and never one with a frame of unknown fate', () => {
    const { nc, bytes } = capture()
    const w = new FrameWriter(nc, 1024)
    const reply = Buffer.from('_INBOX.x.', 'latin1')
    const src = Buffer.from('NATS/1.0\r\nNats-Msg-Id: s:f\r\n\r\n' + 'p'.repeat(300), 'latin1')
    const blockEnd = src.indexOf('\r\n\r\n') + 4
    const frame = (token: number) => {
      const pos = w.writeStored('ben.fact.event.s', reply, token, src, 0, blockEnd, blockEnd, Buffer.alloc(0), -1)!
      w.flush()
      return pos.chunk
    }
    // chunk A: three frames, all answered; then B: two, one of them given up; then C
    const a = [frame(1), frame(2)]
    const chunkA = a[0]
    const b1 = frame(3)
    expect(b1).not.toBe(chunkA) // (three frames do not fit in 1 KiB)
    for (const c of a) w.settled(c, true)
    const b2 = frame(4)
    expect(b2).toBe(b1)
    w.settled(b1, false)
    w.settled(b2, true)
    const c1 = frame(5)
    expect(c1).toBe(chunkA) // A: every frame answered, written again
    frame(6)
    const d1 = frame(7)
    expect(d1).not.toBe(b1) // B: a frame of unknown fate, never written again
    expect(d1).not.toBe(chunkA)
    // what went out is what was written, frame after frame, whatever memory it was written in
    const out = bytes().toString('latin1')
    expect(out.split('HPUB ').length - 1).toBe(7)
    for (let t = 1; t <= 7; t++) expect(out).toContain(`_INBOX.x.${t} `)
  })
})
