import { describe, expect, it } from 'vitest'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { crc32Ascii, crc32Bytes } from './crc32.js'

describe('crc32', () => {
  it('agrees with zlib over bytes, over a slice, and continued by zlib', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const both = Buffer.concat([a, b])
        expect(crc32Bytes(a)).toBe(crc32(a))
        expect(crc32Bytes(both, a.length)).toBe(crc32(b))
        expect(crc32(b, crc32Bytes(a))).toBe(crc32(both))
      }),
    )
  })

  it('of ASCII text is zlib’s of its bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 64 }), (s) => {
        expect(crc32Ascii(s)).toBe(crc32(Buffer.from(s, 'latin1')))
      }),
    )
  })
})
