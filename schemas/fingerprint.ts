/**
 * CRC-64-AVRO (Rabin) fingerprint of a schema's Parsing Canonical Form, as defined in the
 * Avro specification ("Schema Fingerprints"). Rendered as 16 lowercase hex digits of the
 * unsigned 64-bit value.
 */
const EMPTY = 0xc15d213aa4d7a795n
const MASK = 0xffffffffffffffffn

const TABLE: readonly bigint[] = (() => {
  const table: bigint[] = new Array(256)
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i)
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n))
    table[i] = fp & MASK
  }
  return table
})()

export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = EMPTY
  for (const b of bytes) fp = ((fp >> 8n) ^ TABLE[Number((fp ^ BigInt(b)) & 0xffn)]) & MASK
  return fp
}

export function fingerprintHex(canonicalForm: string): string {
  return crc64Avro(new TextEncoder().encode(canonicalForm)).toString(16).padStart(16, '0')
}
