import type { NatsConnection } from '@nats-io/nats-core'
import { preEncodedHeaders } from './headers.js'

/** The part of nats.js's protocol handler the frame writer uses (one buffer, queued as is). */
interface Protocol {
  sendCommand(cmd: Uint8Array): void
}

const CHUNK = 256 * 1024
const CRLF = 0x0a0d // little-endian "\r\n"

/** Writes a value's bytes into `buf` from `pos`: the end, or negative when `buf` is too small. */
export interface Encoder<T> {
  encodeInto(value: T, buf: Buffer, pos: number): number
}

/** Where a frame's header block and payload landed (stable bytes, kept for a retry). */
export interface Framed {
  readonly headers: Uint8Array
  readonly data: Uint8Array
}

/**
 * HPUB frames written back to back into 256 KiB chunks and handed to the connection as one
 * buffer per burst (a microtask), instead of nats.js's per-publish protocol string, its encode
 * and four buffers copied together again. A chunk is never written twice: the header and payload
 * views of a frame stay valid for a retry for as long as they are referenced.
 *
 * Without access to nats.js's protocol handler (another client version), or with
 * BEN_PUBLISHER_FRAMES=0 (to compare), frames go through `nc.publish` one by one, as before.
 */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(CHUNK)
  private at = 0
  private sentTo = 0
  private queued = false
  private scratch = Buffer.allocUnsafe(64 * 1024)
  private readonly protocol: Protocol | undefined
  private readonly flushNow = () => this.flush()

  constructor(private readonly nc: NatsConnection) {
    const p = (nc as unknown as { protocol?: Partial<Protocol> }).protocol
    this.protocol = typeof p?.sendCommand === 'function' && process.env.BEN_PUBLISHER_FRAMES !== '0' ? (p as Protocol) : undefined
  }

  /**
   * A fact: its header block (latin1 text) and its Avro bytes written by `codec.encodeInto`
   * (end position, or negative when the buffer is too small). Undefined when the message would
   * exceed `maxPayload` (nothing written).
   */
  writeEncoded<T>(subject: string, reply: string, headerText: string, codec: Encoder<T>, value: T, maxPayload: number): Framed | undefined {
    let dlen = codec.encodeInto(value, this.scratch, 0)
    while (dlen < 0) {
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - dlen))
      dlen = codec.encodeInto(value, this.scratch, 0)
    }
    const hlen = headerText.length
    if (hlen + dlen > maxPayload) return undefined
    const line = `HPUB ${subject} ${reply} ${hlen} ${hlen + dlen}\r\n`
    this.reserve(line.length * 3 + hlen + dlen + 2)
    const b = this.buf
    let at = this.at
    at += b.write(line, at, 'utf8')
    const h = at
    at += b.write(headerText, at, 'latin1')
    const d = at
    this.scratch.copy(b, at, 0, dlen)
    at += dlen
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
    return { headers: b.subarray(h, d), data: b.subarray(d, d + dlen) }
  }

  /** A message whose header block and payload are bytes already (raw edge facts, retries). */
  writeRaw(subject: string, reply: string, headers: Uint8Array, data: Uint8Array): void {
    if (!this.protocol) {
      this.nc.publish(subject, data, { reply, headers: preEncodedHeaders(headers) })
      return
    }
    const hlen = headers.length
    const line = `HPUB ${subject} ${reply} ${hlen} ${hlen + data.length}\r\n`
    this.reserve(line.length * 3 + hlen + data.length + 2)
    const b = this.buf
    let at = this.at
    at += b.write(line, at, 'utf8')
    b.set(headers, at)
    at += hlen
    b.set(data, at)
    at += data.length
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
  }

  /**
   * A message whose header block is `block` (bytes ready to send, ending with its empty line)
   * with `lines` (`Name: value\r\n`, latin1) added before that empty line: written straight into
   * the chunk, no block built apart. Where the header block and payload landed (for a retry), or
   * undefined when frames go through `nc.publish` (the caller sends it another way).
   */
  writeWithLines(subject: string, reply: string, block: Uint8Array, lines: string, data: Uint8Array): Framed | undefined {
    if (!this.protocol) return undefined
    const keep = block.length - 2
    const hlen = keep + lines.length + 2
    const line = `HPUB ${subject} ${reply} ${hlen} ${hlen + data.length}\r\n`
    this.reserve(line.length * 3 + hlen + data.length + 2)
    const b = this.buf
    let at = this.at
    at += b.write(line, at, 'utf8')
    const h = at
    b.set(block, at) // whole, then its closing empty line is overwritten by the lines
    at += keep
    at += b.write(lines, at, 'latin1')
    b.writeUInt16LE(CRLF, at)
    at += 2
    const d = at
    b.set(data, at)
    at += data.length
    b.writeUInt16LE(CRLF, at)
    this.at = at + 2
    this.queue()
    return { headers: b.subarray(h, d), data: b.subarray(d, at) }
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
    if (this.protocol) this.protocol.sendCommand(out)
    else this.publishEach(out)
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return
    this.flush()
    // A fresh chunk: the old one stays alive as long as a retry may need its frames.
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n))
    this.at = 0
    this.sentTo = 0
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
