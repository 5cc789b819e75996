/**
 * RFC 6587 framing on a syslog TCP stream, per connection: octet counting (`LEN SP MSG`) or
 * non-transparent framing (messages ended by LF, CR LF or NUL), chosen per message by its first
 * byte (a digit, or `<`). A frame longer than the limit, a bad length prefix or garbage between
 * frames is reported and skipped — to the end of the counted frame, or to the next line end —
 * so one bad frame never desynchronises the ones after it. Pure: bytes in, frames and faults out.
 */

export type Framed = { kind: 'frame'; text: string } | { kind: 'fault'; reason: 'too_large' | 'bad_frame'; message: string }

export class SyslogFramer {
  private buf: Buffer = Buffer.alloc(0)
  /** Bytes still to skip (an oversized counted frame). */
  private skipBytes = 0
  /** Skipping to the next line end (an oversized or garbled line). */
  private skipLine = false

  constructor(private readonly maxFrame: number) {}

  push(chunk: Buffer, out: Framed[]): void {
    if (this.skipBytes > 0) {
      const n = Math.min(this.skipBytes, chunk.length)
      this.skipBytes -= n
      chunk = chunk.subarray(n)
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    let at = 0
    const b = this.buf
    while (at < b.length) {
      if (this.skipLine) {
        const end = lineEnd(b, at)
        if (end < 0) {
          at = b.length
          break
        }
        this.skipLine = false
        at = end + 1
        continue
      }
      const c = b[at]
      if (c === 10 || c === 13 || c === 0 || c === 32) {
        at++ // stray separators between frames
        continue
      }
      if (c >= 48 && c <= 57) {
        // octet counting: digits, one space, then LEN bytes
        let i = at
        let len = 0
        while (i < b.length && b[i] >= 48 && b[i] <= 57 && i - at < 10) len = len * 10 + (b[i++] - 48)
        if (i >= b.length) break // the prefix is not complete yet
        if (b[i] !== 32 || i - at >= 10 || len === 0) {
          out.push({ kind: 'fault', reason: 'bad_frame', message: `octet-counting prefix '${b.subarray(at, Math.min(i + 1, at + 12)).toString('latin1')}' is not LEN SP` })
          this.skipLine = true
          at = i
          continue
        }
        const start = i + 1
        if (len > this.maxFrame) {
          out.push({ kind: 'fault', reason: 'too_large', message: `frame of ${len} bytes is over the limit of ${this.maxFrame}` })
          const have = b.length - start
          if (have >= len) at = start + len
          else {
            this.skipBytes = len - have
            at = b.length
          }
          continue
        }
        if (b.length - start < len) break // wait for the rest
        out.push({ kind: 'frame', text: b.toString('utf8', start, start + len) })
        at = start + len
        continue
      }
      const end = lineEnd(b, at)
      if (end < 0) {
        if (b.length - at > this.maxFrame) {
          out.push({ kind: 'fault', reason: 'too_large', message: `line of more than ${this.maxFrame} bytes without an end` })
          this.skipLine = true
          at = b.length
        }
        break
      }
      if (end - at > this.maxFrame) out.push({ kind: 'fault', reason: 'too_large', message: `line of ${end - at} bytes is over the limit of ${this.maxFrame}` })
      else out.push({ kind: 'frame', text: b.toString('utf8', at, end) })
      at = end + 1
    }
    this.buf = at >= b.length ? Buffer.alloc(0) : b.subarray(at)
    if (this.buf.length > 0 && at > 0) this.buf = Buffer.from(this.buf) // do not pin the big chunk
  }

  /** The connection ended: what is left is a cut-off frame (or a last line without LF, accepted). */
  end(out: Framed[]): void {
    if (this.skipBytes > 0) out.push({ kind: 'fault', reason: 'bad_frame', message: `connection closed ${this.skipBytes} bytes before the end of a counted frame` })
    const rest = this.buf
    this.buf = Buffer.alloc(0)
    if (rest.length === 0 || this.skipLine) return
    if (rest[0] >= 48 && rest[0] <= 57) out.push({ kind: 'fault', reason: 'bad_frame', message: `connection closed inside a counted frame (${rest.length} bytes received)` })
    else out.push({ kind: 'frame', text: rest.toString('utf8') })
  }
}

function lineEnd(b: Buffer, from: number): number {
  for (let i = from; i < b.length; i++) if (b[i] === 10 || b[i] === 0) return i
  return -1
}
