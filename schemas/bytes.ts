/**
 * `b.write(s, at, 'utf8' | 'latin1')` without Buffer#write's argument handling, which costs more
 * than writing a short string: Buffer's own per-encoding writers (on every Buffer since Node 0.x,
 * undocumented), called with the room left. The same bytes and the same count; `at` must be within
 * `b` (the hot paths that call these have checked their room). Where a runtime lacks them, plain
 * Buffer#write.
 */
interface EncodingWriters {
  utf8Write(s: string, at: number, max: number): number
  latin1Write(s: string, at: number, max: number): number
}

const direct =
  typeof (Buffer.prototype as unknown as Partial<EncodingWriters>).utf8Write === 'function' &&
  typeof (Buffer.prototype as unknown as Partial<EncodingWriters>).latin1Write === 'function'

/** `b.write(s, at, 'utf8')`: the bytes written. */
export const utf8Into: (b: Buffer, s: string, at: number) => number = direct
  ? (b, s, at) => (b as unknown as EncodingWriters).utf8Write(s, at, b.length - at)
  : (b, s, at) => b.write(s, at, 'utf8')

/** `b.write(s, at, 'latin1')`: the bytes written. */
export const latin1Into: (b: Buffer, s: string, at: number) => number = direct
  ? (b, s, at) => (b as unknown as EncodingWriters).latin1Write(s, at, b.length - at)
  : (b, s, at) => b.write(s, at, 'latin1')
