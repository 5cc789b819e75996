/**
 * Reads a fact's `id` and `ts` straight from its Avro bytes without decoding the rest: every
 * fact schema starts with `id: string, ts: long` (checked by a test against the .avsc files).
 * Returns undefined for bytes that do not start that way.
 */
export function peekIdTs(data: Uint8Array): { id: string; ts: number } | undefined {
  let pos = 0
  const long = (): number | undefined => {
    let n = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      if (pos >= data.length) return undefined
      const b = data[pos++]
      n += (b & 0x7f) * mul
      if ((b & 0x80) === 0) return n % 2 === 0 ? n / 2 : -(n + 1) / 2
      mul *= 128
    }
    return undefined
  }
  const len = long()
  if (len === undefined || len < 0 || pos + len > data.length) return undefined
  const id = Buffer.from(data.buffer, data.byteOffset + pos, len).toString('utf8')
  pos += len
  const ts = long()
  return ts === undefined ? undefined : { id, ts }
}
