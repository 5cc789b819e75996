import type { NatsConnection } from '@nats-io/nats-core'
import { preEncodedHeaders } from './headers.js'
import { latin1Into, utf8Into } from '../schemas/index.js'
import { ChunkLedger } from '../schemas/chunks.js'

/** The part of nats.js's protocol handler the frame writer uses (one buffer, queued as is). */
interface Protocol {
  sendCommand(cmd: Uint8Array): void
  /** Writes what is queued to the socket now (nats.js does in a microtask, or at once past 32 KiB queued). */
  flushPending?(): void
}

/**
 * Frames are written into chunks of this size. A drain's burst (1,024 records, ~650 KiB in
 * bench:otlp) fits one: frames flushed from two chunks in one turn reach nats.js as two buffers,
 * which it copies into one before the socket write.
 */
const CHUNK = 1024 * 1024

/** The reply subject `reply` (bytes) + `token`, as text (frames through `nc.publish`). */
export function replyText(reply: Uint8Array, token: number): string {
  return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8') + String(token)
}
const CRLF = 0x0a0d // little-endian "\r\n"

/** Writes a value's bytes into `buf` from `pos`: the end, or negative when `buf` is too small. */
export interface Encoder<T> {
  encodeInto(value: T, buf: Buffer, pos: number): number
}

/**
 * Where the last frame landed in its chunk (the header block at `h`, the payload from `d` to
 * `e`): stable bytes, kept for a retry for as long as `chunk` is referenced. One object per
 * writer, overwritten by each frame: no allocation per message.
 */
export interface FramePosition {
  chunk: Buffer
  h: number
  d: number
  e: number
}

/**
 * Writes `s` into `b` at `at` as UTF-8 (`latin1`: one byte a UTF-16 unit, as Buffer's 'latin1'):
 * the bytes written. Short ASCII strings (subjects, ids, header lines) are copied in a loop, which
 * costs less than Buffer#write's call; anything else is Buffer#write's, so the bytes are the same.
 * `b` must have room for the string's longest encoding (3 bytes a unit).
 */
export function putString(b: Buffer, at: number, s: string, latin1: boolean): number {
  const n = s.length
  if (n > 64) return latin1 ? latin1Into(b, s, at) : utf8Into(b, s, at)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) return latin1 ? latin1Into(b, s, at) : utf8Into(b, s, at)
    b[at + i] = c
  }
  return n
}

/** How many decimal digits a non-negative integer has (comparisons below 10^9: no division). */
function digitsOf(v: number): number {
  if (v < 1e9) return v < 1e4 ? (v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : 4) : v < 1e6 ? (v < 1e5 ? 5 : 6) : v < 1e7 ? 7 : v < 1e8 ? 8 : 9
  let digits = 10
  for (let x = Math.floor(v / 1e10); x >= 1; x = Math.floor(x / 10)) digits++
  return digits
}

/**
 * Writes a non-negative integer's decimal digits into `b` at `at`: the bytes written. Below 2^31
 * in 32-bit integer arithmetic (a division by 10 the compiler turns into a multiply), the frame
 * lines' lengths and the tokens and seqs of a long run alike; past it in floating point.
 */
export function putUint(b: Buffer, at: number, v: number): number {
  const digits = digitsOf(v)
  if (v <= 0x7fffffff) {
    let n = v | 0
    for (let i = at + digits - 1; i > at; i--) {
      const q = (n / 10) | 0
      b[i] = 48 + n - q * 10
      n = q
    }
    b[at] = 48 + n
    return digits
  }
  for (let i = digits - 1; i >= 0; i--) {
    b[at + i] = 48 + (v % 10)
    v = Math.floor(v / 10)
  }
  return digits
}

/** Copies `src[from, to)` into `b` at `at`: a loop for a few bytes, else a native copy (no view made of a Buffer). */
export function putBytes(b: Buffer, at: number, src: Uint8Array, from: number, to: number): void {
  if (to - from > 48) {
    if (Buffer.isBuffer(src)) src.copy(b, at, from, to)
    else b.set(src.subarray(from, to), at)
    return
  }
  for (let i = from; i < to; i++) b[at++] = src[i]
}

/** Space for an HPUB line: `HPUB <subject> <reply prefix><token> <hlen> <total>\r\n`. */
function lineRoom(subject: string, reply: Uint8Array): number {
  return 5 + subject.length * 3 + 1 + reply.length + 16 + 1 + 10 + 1 + 10 + 2
}

const HPUB = Buffer.from('HPUB ', 'latin1')

/**
 * HPUB frames written back to back into 1 MiB chunks and handed to the connection as one
 * buffer per burst (a microtask), instead of nats.js's per-publish protocol string, its encode
 * and four buffers copied together again. A chunk is written again only once every frame in it
 * was answered (`settled`): until then a frame's bytes stay valid for a retry.
 *
 * Without access to nats.js's protocol handler (another client version), or with
 * BEN_PUBLISHER_FRAMES=0 (to compare), frames go through `nc.publish` one by one, as before.
 */
export class FrameWriter {
  private buf: Buffer
  /** The chunks frames are written into, each written again once every frame in it was answered (see `settled`). */
  private readonly chunks: ChunkLedger
  private at = 0
  private sentTo = 0
  private queued = false
  private scratch = Buffer.allocUnsafe(64 * 1024)
  private readonly protocol: Protocol | undefined
  private readonly flushNow = () => this.flush()

  constructor(
    private readonly nc: NatsConnection,
    /** Bytes a chunk holds (tests cross chunks with small ones). */
    chunkBytes = CHUNK,
  ) {
    this.chunks = new ChunkLedger(chunkBytes)
    this.buf = this.chunks.current
    this.last = { chunk: this.buf, h: 0, d: 0, e: 0 }
    const p = (nc as unknown as { protocol?: Partial<Protocol> }).protocol
    this.protocol = typeof p?.sendCommand === 'function' && process.env.BEN_PUBLISHER_FRAMES !== '0' ? (p as Protocol) : undefined
  }

  /** Where the last frame landed (overwritten by the next). */
  readonly last: FramePosition

  /**
   * A fact: its header block is `head` (bytes), then the message id (latin1) — `idA`, or
   * `idA:idB` when `idB` is given (a raw fact's `<source>:<id>`) — then `tail` (bytes, ending with
   * the empty line); its payload is written by `codec.encodeInto` (end position, or negative when
   * the buffer is too small). The HPUB line's reply subject is `reply` (bytes) then `token`'s
   * digits. Where the frame landed, or undefined when the message would exceed `maxPayload`
   * (nothing written).
   */
  writeEncoded<T>(
    subject: string,
    reply: Uint8Array,
    token: number,
    head: Uint8Array,
    idA: string,
    idB: string | undefined,
    tail: Uint8Array,
    codec: Encoder<T>,
    value: T,
    maxPayload: number,
  ): FramePosition | undefined {
    let dlen = codec.encodeInto(value, this.scratch, 0)
    while (dlen < 0) {
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - dlen))
      dlen = codec.encodeInto(value, this.scratch, 0)
    }
    const hlen = head.length + idA.length + (idB === undefined ? 0 : idB.length + 1) + tail.length
    if (hlen + dlen > maxPayload) return undefined
    this.reserve(lineRoom(subject, reply) + hlen + dlen + 2)
    const b = this.buf
    let at = this.line(b, this.at, subject, reply, token, hlen, hlen + dlen)
    const h = at
    putBytes(b, at, head, 0, head.length)
    at += head.length
    at += putString(b, at, idA, true)
    if (idB !== undefined) {
      b[at++] = 0x3a // ':'
      at += putString(b, at, idB, true)
    }
    putBytes(b, at, tail, 0, tail.length)
    at += tail.length
    const d = at
    putBytes(b, at, this.scratch, 0, dlen)
    at += dlen
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
    return this.landed(h, d, d + dlen)
  }

  /** A message whose header block and payload are bytes already (raw edge facts, retries). */
  writeRaw(subject: string, reply: Uint8Array, token: number, headers: Uint8Array, data: Uint8Array): void {
    if (!this.protocol) {
      this.nc.publish(subject, data, { reply: replyText(reply, token), headers: preEncodedHeaders(headers) })
      return
    }
    const hlen = headers.length
    this.reserve(lineRoom(subject, reply) + hlen + data.length + 2)
    // a frame no one reports on (`settled`): when it has left is not known, so the chunk is not written again
    this.chunks.spoil()
    const b = this.buf
    let at = this.line(b, this.at, subject, reply, token, hlen, hlen + data.length)
    putBytes(b, at, headers, 0, hlen)
    at += hlen
    putBytes(b, at, data, 0, data.length)
    at += data.length
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
  }

  /**
   * A message stored ready to send in `src`: its header block is `src[blockAt, blockEnd)` (ending
   * with its empty line) and its payload `src[dataAt, end)`. When `value` is not negative,
   * the header line `<head><value>\r\n` (`head` latin1 bytes, `value` in decimal) is added before
   * that empty line: written straight into the chunk, no block or line built apart. Where the frame
   * landed (for a retry), or undefined when frames go through `nc.publish` (the caller sends it
   * another way).
   */
  writeStored(
    subject: string,
    reply: Uint8Array,
    token: number,
    src: Uint8Array,
    blockAt: number,
    blockEnd: number,
    dataAt: number,
    head: Uint8Array,
    value: number,
    end = src.length,
  ): FramePosition | undefined {
    if (!this.protocol) return undefined
    const keep = blockEnd - 2 - blockAt
    const dlen = end - dataAt
    const line = value < 0 ? 0 : head.length + digitsOf(value) + 2
    const hlen = keep + line + 2
    this.reserve(lineRoom(subject, reply) + hlen + dlen + 2)
    const b = this.buf
    let at = this.line(b, this.at, subject, reply, token, hlen, hlen + dlen)
    const h = at
    if (dataAt === blockEnd) {
      // the header block and the payload lie together (a WAL record): one copy of both, then the
      // empty line and the payload moved past the added line within the chunk (copyWithin: no
      // view made, as Buffer#copy makes for each range it copies)
      putBytes(b, at, src, blockAt, end)
      if (line) b.copyWithin(at + keep + line, at + keep, at + keep + 2 + dlen)
    } else {
      putBytes(b, at, src, blockAt, blockAt + keep)
      b.writeUInt16LE(CRLF, at + keep + line)
      putBytes(b, at + keep + line + 2, src, dataAt, end)
    }
    at += keep
    if (value >= 0) {
      putBytes(b, at, head, 0, head.length)
      at += head.length
      at += putUint(b, at, value)
      b.writeUInt16LE(CRLF, at)
      at += 2
    }
    at += 2 // the empty line
    const d = at
    at += dlen
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
    return this.landed(h, d, at)
  }

  /** `HPUB <subject> <reply><token> <hlen> <total>\r\n` at `at`: where it ends. */
  private line(b: Buffer, at: number, subject: string, reply: Uint8Array, token: number, hlen: number, total: number): number {
    putBytes(b, at, HPUB, 0, HPUB.length)
    at += HPUB.length
    at += putString(b, at, subject, false)
    b[at++] = 0x20
    putBytes(b, at, reply, 0, reply.length)
    at += reply.length
    at += putUint(b, at, token)
    b[at++] = 0x20
    at += putUint(b, at, hlen)
    b[at++] = 0x20
    at += putUint(b, at, total)
    b.writeUInt16LE(CRLF, at)
    return at + 2
  }

  private landed(h: number, d: number, e: number): FramePosition {
    this.chunks.lent()
    const p = this.last
    p.chunk = this.buf
    p.h = h
    p.d = d
    p.e = e
    return p
  }

  /** Whether frames go out in chunks (false: through `nc.publish`, one by one). */
  get direct(): boolean {
    return this.protocol !== undefined
  }

  /** Hands the frames written since the last flush to the connection. */
  flush(): void {
    this.queued = false
    if (this.at === this.sentTo) return
    const out = this.buf.subarray(this.sentTo, this.at)
    this.sentTo = this.at
    const p = this.protocol
    if (!p) this.publishEach(out)
    else if (typeof p.flushPending !== 'function') p.sendCommand(out)
    else {
      // Handed to the socket at once, as one buffer: queued behind another (an earlier flush of
      // this turn, a PING), nats.js would copy both into new memory to write them as one.
      p.flushPending()
      p.sendCommand(out)
      p.flushPending()
    }
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return
    this.flush()
    // Another chunk: the old one stays alive as long as a retry may need its frames, and is
    // written again only once every frame in it was answered (`settled`).
    this.buf = this.chunks.next(n)
    this.at = 0
    this.sentTo = 0
  }

  /**
   * What became of a frame written by `writeEncoded` or `writeStored` into `chunk` (its
   * `FramePosition`'s): `answered` when its PubAck came (the server had all its bytes), otherwise
   * (given up, forgotten, sent again) its bytes may still be on their way out. A chunk all of whose
   * frames were answered is written again instead of new memory, which costs a page fault per 4 KiB
   * page on its first write (11-17 µs a page on this project's VMs); one with a frame of unknown fate,
   * or one `writeRaw` wrote into, never is. Anything else given as `chunk` is ignored.
   */
  settled(chunk: Uint8Array, answered: boolean): void {
    this.chunks.back(chunk.buffer, answered)
  }

  private queue(): void {
    if (this.queued) return
    this.queued = true
    queueMicrotask(this.flushNow)
  }

  /** No protocol access: the frames written by `writeEncoded` are published one by one. */
  private publishEach(frames: Buffer): void {
    let at = 0
    while (at < frames.length) {
      const eol = frames.indexOf('\r\n', at, 'latin1')
      const [, subject, reply, hl, tl] = frames.toString('utf8', at, eol).split(' ')
      const h = eol + 2
      const d = h + Number(hl)
      const end = h + Number(tl)
      this.nc.publish(subject, frames.subarray(d, end), { reply, headers: preEncodedHeaders(frames.subarray(h, d)) })
      at = end + 2
    }
  }
}
