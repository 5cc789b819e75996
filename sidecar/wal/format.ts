/**
 * The on-disk format (README.md has the picture). All integers little-endian.
 *
 * Segment file `NNNNNNNNNNNNNNNN.wal` (16-digit decimal = seq of its first record):
 *   header  16 bytes: magic "BWAL" | u16 version = 1 | u16 reserved = 0 | u64 base seq
 *   records back to back.
 * Record frame, 24 + n bytes:
 *   u32 crc (CRC-32, zlib polynomial, over bytes 4 .. 24+n: length, seq, time and payload)
 *   u32 n   (payload length)
 *   u64 seq
 *   f64 appendedAt (epoch ms)
 *   n payload bytes
 */
import { crc32 } from 'node:zlib'
import { crc32Bytes } from '../../schemas/crc32.js'

export const SEGMENT_MAGIC = 0x4c415742 // "BWAL" read as u32 LE
export const SEGMENT_VERSION = 1
export const SEGMENT_HEADER_BYTES = 16
export const FRAME_HEADER_BYTES = 24
/** A length field above this is garbage, not a record (keeps a torn length from asking for gigabytes). */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024
const TWO_32 = 0x1_0000_0000

const SEGMENT_NAME = /^(\d{16})\.wal$/

export function segmentName(baseSeq: number): string {
  return `${String(baseSeq).padStart(16, '0')}.wal`
}

/** The base seq a segment file name encodes, or undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name)
  return m ? Number(m[1]) : undefined
}

export function encodeSegmentHeader(baseSeq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES)
  b.writeUInt32LE(SEGMENT_MAGIC, 0)
  b.writeUInt16LE(SEGMENT_VERSION, 4)
  b.writeUInt16LE(0, 6)
  writeU64(b, 8, baseSeq)
  return b
}

/** The base seq in a segment header, or undefined when the header is not ours. */
export function decodeSegmentHeader(b: Buffer): number | undefined {
  if (b.length < SEGMENT_HEADER_BYTES) return undefined
  if (b.readUInt32LE(0) !== SEGMENT_MAGIC || b.readUInt16LE(4) !== SEGMENT_VERSION) return undefined
  return readU64(b, 8)
}

export const frameBytes = (payloadBytes: number): number => FRAME_HEADER_BYTES + payloadBytes

/** Writes one frame into `out` at `off`; returns the offset after it. */
export function encodeFrame(out: Buffer, off: number, seq: number, appendedAt: number, data: Uint8Array): number {
  const n = data.length
  // the checksummed head (length, seq, time) in a scratch buffer: its CRC (here, 20 bytes) continued
  // over `data` (zlib) is the CRC of the frame's bytes 4 .. 24+n, one native call and no view of
  // `out` per record
  const h = frameHead
  h.writeUInt32LE(n, 0)
  writeU64(h, 4, seq)
  h.writeDoubleLE(appendedAt, 12)
  for (let i = 0; i < 20; i++) out[off + 4 + i] = h[i]
  out.set(data, off + FRAME_HEADER_BYTES)
  out.writeUInt32LE(crc32(data, crc32Bytes(h)), off)
  return off + FRAME_HEADER_BYTES + n
}

const frameHead = Buffer.alloc(FRAME_HEADER_BYTES - 4)

export const FrameStatus = {
  Ok: 'ok',
  /** The frame runs past the end of the bytes available: a torn write if this is the file's end. */
  Short: 'short',
  /** The checksum or length field is wrong. */
  Bad: 'bad',
} as const
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus]

/** Reused by the scanner so that walking a segment allocates nothing per frame. */
export interface FrameView {
  status: FrameStatus
  seq: number
  appendedAt: number
  dataStart: number
  dataEnd: number
}

export const newFrameView = (): FrameView => ({ status: FrameStatus.Short, seq: 0, appendedAt: 0, dataStart: 0, dataEnd: 0 })

/** Reads the frame at `off` in `buf[0, end)` into `view`. `verify` checks the CRC. */
export function readFrame(buf: Buffer, off: number, end: number, view: FrameView, verify = true): FrameView {
  if (end - off < FRAME_HEADER_BYTES) {
    view.status = FrameStatus.Short
    return view
  }
  const n = buf.readUInt32LE(off + 4)
  if (n > MAX_RECORD_BYTES) {
    view.status = FrameStatus.Bad
    return view
  }
  const dataEnd = off + FRAME_HEADER_BYTES + n
  if (dataEnd > end) {
    view.status = FrameStatus.Short
    return view
  }
  if (verify && crc32(buf.subarray(off + 4, dataEnd)) !== buf.readUInt32LE(off)) {
    view.status = FrameStatus.Bad
    return view
  }
  view.status = FrameStatus.Ok
  view.seq = readU64(buf, off + 8)
  view.appendedAt = buf.readDoubleLE(off + 16)
  view.dataStart = off + FRAME_HEADER_BYTES
  view.dataEnd = dataEnd
  return view
}

function writeU64(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v % TWO_32, off)
  b.writeUInt32LE(Math.floor(v / TWO_32), off + 4)
}

function readU64(b: Buffer, off: number): number {
  return b.readUInt32LE(off) + b.readUInt32LE(off + 4) * TWO_32
}
