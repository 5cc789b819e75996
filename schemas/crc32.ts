/** CRC-32 as zlib computes it (IEEE: reflected polynomial 0xEDB88320, all ones in and out), a byte a step. */
const TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})

/** CRC-32 of `b[start, end)`: zlib's `crc32` of those bytes, without a native call (for a few bytes at a time). */
export function crc32Bytes(b: Uint8Array, start = 0, end = b.length): number {
  let c = -1
  for (let i = start; i < end; i++) c = TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8)
  return (c ^ -1) >>> 0
}

/** CRC-32 of the characters of `s[start, end)` taken as bytes (ASCII text). */
export function crc32Ascii(s: string, start = 0, end = s.length): number {
  let c = -1
  for (let i = start; i < end; i++) c = TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8)
  return (c ^ -1) >>> 0
}
