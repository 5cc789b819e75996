import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { FRAME_HEADER_BYTES, FrameStatus, MAX_RECORD_BYTES, newFrameView, readFrame, SEGMENT_HEADER_BYTES, segmentName, type FrameView } from './format.js'

/** Every INDEX_EVERY-th record of a segment has its byte offset kept in memory, for seeks. */
export const INDEX_EVERY = 64
const DEFAULT_CHUNK = 1024 * 1024

/** What the WAL knows about one segment file. Mutated only by the writer (and recovery). */
export interface Segment {
  readonly base: number
  readonly path: string
  /** Seq of the last record written to it; base - 1 while empty. */
  last: number
  /** Bytes written (header included): readers never look past this. */
  bytes: number
  /** index[i] = byte offset of record base + i × INDEX_EVERY. */
  readonly index: number[]
}

export function newSegment(dir: string, base: number): Segment {
  return { base, path: join(dir, segmentName(base)), last: base - 1, bytes: SEGMENT_HEADER_BYTES, index: [] }
}

export const segmentRecords = (s: Segment): number => s.last - s.base + 1

/** Records the offset of `seq` in the sparse index when it falls on an index slot. */
export function noteOffset(s: Segment, seq: number, offset: number): void {
  const rel = seq - s.base
  if (rel % INDEX_EVERY === 0) s.index[rel / INDEX_EVERY] = offset
}

/** The closest indexed offset at or before `seq`, and the seq found there. */
export function seekHint(s: Segment, seq: number): { seq: number; offset: number } {
  const slot = Math.min(Math.floor((seq - s.base) / INDEX_EVERY), s.index.length - 1)
  if (slot < 0) return { seq: s.base, offset: SEGMENT_HEADER_BYTES }
  return { seq: s.base + slot * INDEX_EVERY, offset: s.index[slot] }
}

/** Index of the segment holding `seq` in a list sorted by base (the last one whose base ≤ seq), or -1. */
export function findSegment(segments: readonly Segment[], seq: number): number {
  let lo = 0
  let hi = segments.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (segments[mid].base <= seq) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

export const ScanEnd = {
  /** Reached `limit` on a frame boundary. */
  End: 'end',
  /** The visitor asked to stop; `offset` is the frame it stopped before. */
  Stopped: 'stopped',
  /** A frame runs past `limit` (or past the file's real end). */
  Short: 'short',
  /** A frame failed its checksum or has an impossible length. */
  Bad: 'bad',
} as const
export type ScanEnd = (typeof ScanEnd)[keyof typeof ScanEnd]

/**
 * Visits the verified frames of `fh` in [offset, limit), reading in chunks of about
 * `chunkBytes`. Each chunk is a fresh buffer, so a visitor may keep subarrays of it.
 * The visitor returns false to stop before the next frame.
 */
export async function scanFrames(
  fh: FileHandle,
  offset: number,
  limit: number,
  visit: (buf: Buffer, frame: FrameView, frameOffset: number) => boolean,
  chunkBytes = DEFAULT_CHUNK,
): Promise<{ end: ScanEnd; offset: number }> {
  const view = newFrameView()
  let need = 0
  while (offset < limit) {
    const want = Math.min(Math.max(chunkBytes, need), limit - offset)
    const buf = Buffer.allocUnsafe(want)
    const { bytesRead } = await fh.read(buf, 0, want, offset)
    if (bytesRead === 0) return { end: ScanEnd.Short, offset }
    let pos = 0
    for (;;) {
      readFrame(buf, pos, bytesRead, view)
      if (view.status === FrameStatus.Ok) {
        if (!visit(buf, view, offset + pos)) return { end: ScanEnd.Stopped, offset: offset + pos }
        pos = view.dataEnd
        continue
      }
      if (view.status === FrameStatus.Bad) return { end: ScanEnd.Bad, offset: offset + pos }
      break // Short: the frame continues past this chunk
    }
    if (pos === 0) {
      // One frame larger than the chunk, or the true end of the data.
      if (bytesRead < FRAME_HEADER_BYTES) return { end: ScanEnd.Short, offset }
      const n = buf.readUInt32LE(4)
      if (n > MAX_RECORD_BYTES) return { end: ScanEnd.Bad, offset }
      need = FRAME_HEADER_BYTES + n
      if (offset + need > limit || bytesRead < want) return { end: ScanEnd.Short, offset }
      continue
    }
    need = 0
    offset += pos
  }
  return { end: ScanEnd.End, offset }
}

/** Byte offset and append time of record `seq` in `s` (which must hold it), read from disk. */
export async function locate(s: Segment, seq: number): Promise<{ offset: number; appendedAt: number } | undefined> {
  const hint = seekHint(s, seq)
  const fh = await open(s.path, 'r')
  try {
    let found: { offset: number; appendedAt: number } | undefined
    await scanFrames(
      fh,
      hint.offset,
      s.bytes,
      (_buf, f, at) => {
        if (f.seq < seq) return true
        if (f.seq === seq) found = { offset: at, appendedAt: f.appendedAt }
        return false
      },
      64 * 1024,
    )
    return found
  } finally {
    await fh.close()
  }
}
