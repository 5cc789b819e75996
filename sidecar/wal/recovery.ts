/**
 * Opening a WAL directory: read the checkpoint, drop segments that are wholly acked,
 * verify every record of the rest, cut a torn tail off the last segment, and refuse
 * (WalCorruptError with file and offset) anything a crash cannot explain.
 */
import { open, readdir, rm } from 'node:fs/promises'
import { readCheckpoint, removeCheckpointTemp, syncDir } from './checkpoint.js'
import { WalCorruptError } from './errors.js'
import { decodeSegmentHeader, parseSegmentName, SEGMENT_HEADER_BYTES } from './format.js'
import { newSegment, noteOffset, scanFrames, ScanEnd, type Segment } from './segment.js'
import type { WalRecovery } from './types.js'

export interface Recovered {
  readonly segments: Segment[]
  readonly report: WalRecovery
  /** The first record after the acked position, if any is retained. */
  readonly firstUnacked: { seq: number; segBase: number; offset: number; appendedAt: number } | undefined
}

export async function recover(dir: string): Promise<Recovered> {
  await removeCheckpointTemp(dir)
  const checkpoint = await readCheckpoint(dir)
  const acked = checkpoint.acked
  const bases = (await readdir(dir))
    .map(parseSegmentName)
    .filter((b): b is number => b !== undefined)
    .sort((a, b) => a - b)

  let removedSegments = 0
  let truncatedBytes = 0
  let records = 0
  const kept: Segment[] = []
  let firstUnacked: Recovered['firstUnacked']
  // Every record ≤ acked was delivered: a segment followed by one that starts at or before acked + 1 goes unread.
  let i = 0
  while (i < bases.length - 1 && bases[i + 1] - 1 <= acked) {
    await rm(newSegment(dir, bases[i]).path)
    removedSegments++
    i++
  }

  let prevLast = checkpoint.state === 'ok' ? acked : undefined
  for (; i < bases.length; i++) {
    const seg = newSegment(dir, bases[i])
    const isLast = i === bases.length - 1
    if (prevLast !== undefined && seg.base > prevLast + 1) {
      throw new WalCorruptError(
        `WAL ${dir}: records ${prevLast + 1}..${seg.base - 1} are missing (no segment holds them; ${seg.path} starts at ${seg.base}). A segment file was removed by hand or lost; restore it, or move the later segments aside to accept the loss`,
        seg.path,
        0,
      )
    }
    const fh = await open(seg.path, 'r+')
    let valid: number
    let size: number
    try {
      size = (await fh.stat()).size
      const header = Buffer.alloc(SEGMENT_HEADER_BYTES)
      const { bytesRead } = await fh.read(header, 0, SEGMENT_HEADER_BYTES, 0)
      if (bytesRead < SEGMENT_HEADER_BYTES) {
        if (!isLast) throw corrupt(seg, 0, 'its header is cut short')
        valid = 0
      } else {
        const base = decodeSegmentHeader(header)
        if (base !== seg.base) throw corrupt(seg, 0, base === undefined ? 'it does not start with a WAL segment header' : `its header says base ${base}`)
        let expected = seg.base
        const scan = await scanFrames(fh, SEGMENT_HEADER_BYTES, size, (_buf, f, at) => {
          if (f.seq !== expected) return false
          noteOffset(seg, f.seq, at)
          if (firstUnacked === undefined && f.seq > acked) firstUnacked = { seq: f.seq, segBase: seg.base, offset: at, appendedAt: f.appendedAt }
          expected++
          return true
        })
        valid = scan.offset
        seg.last = expected - 1
        if (scan.end !== ScanEnd.End && !isLast) {
          const why =
            scan.end === ScanEnd.Stopped ? `expected seq ${expected} there` : scan.end === ScanEnd.Bad ? 'its checksum does not match' : 'it runs past the end of the file'
          throw corrupt(seg, scan.offset, `the record at this offset is damaged (${why})`)
        }
      }
      if (valid < size) {
        // Torn tail of the last segment: the write in flight when the process died.
        await fh.truncate(valid)
        await fh.sync()
        truncatedBytes += size - valid
      }
    } finally {
      await fh.close()
    }
    if (valid <= SEGMENT_HEADER_BYTES || seg.last <= acked) {
      // Nothing left to deliver in it (empty after the cut, or wholly acked).
      await rm(seg.path)
      if (seg.last >= seg.base) {
        removedSegments++
        prevLast = seg.last
      }
      continue
    }
    seg.bytes = valid
    records += seg.last - seg.base + 1
    prevLast = seg.last
    kept.push(seg)
  }
  if (removedSegments > 0 || truncatedBytes > 0) await syncDir(dir)
  const lastSeq = Math.max(acked, kept.length ? kept[kept.length - 1].last : 0, prevLast ?? 0)
  return {
    segments: kept,
    firstUnacked,
    report: { segments: kept.length, records, truncatedBytes, removedSegments, ackedSeq: acked, checkpoint: checkpoint.state, lastSeq },
  }
}

function corrupt(seg: Segment, offset: number, what: string): WalCorruptError {
  return new WalCorruptError(
    `WAL segment ${seg.path} is corrupt at byte ${offset}: ${what}. This is not a torn write from a crash (it is not the last segment). Restore the file from a copy, or move it and the segments after it aside to accept losing their records`,
    seg.path,
    offset,
  )
}
