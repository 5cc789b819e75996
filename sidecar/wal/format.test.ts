import { describe, expect, it } from 'vitest'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { encodeFrame, FRAME_HEADER_BYTES, newFrameView, readFrame, FrameStatus } from './format.js'

describe('WAL frame', () => {
  it("checksums bytes 4 .. 24+n with zlib's CRC-32, and reads back what it wrote", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.double({ noNaN: true }), (data, seq, at) => {
        const out = Buffer.alloc(FRAME_HEADER_BYTES + data.length + 8)
        const end = encodeFrame(out, 3, seq, at, data)
        expect(end).toBe(3 + FRAME_HEADER_BYTES + data.length)
        expect(out.readUInt32LE(3)).toBe(crc32(out.subarray(7, end)))
        const v = readFrame(out, 3, end, newFrameView())
        expect(v.status).toBe(FrameStatus.Ok)
        expect(v.seq).toBe(seq)
        expect(Object.is(v.appendedAt, at)).toBe(true)
        expect(Buffer.from(out.subarray(v.dataStart, v.dataEnd))).toEqual(Buffer.from(data))
      }),
      { numRuns: 300, seed: 7 },
    )
  })
})
