/**
 * Sequential reads for the drainer. A Reader keeps a cursor (segment, byte offset,
 * next seq) and its own read handle, so reading on from where the last call stopped
 * costs one positioned read per chunk and no seek.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { WalCorruptError } from './errors.js'
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js'
import { findSegment, scanFrames, ScanEnd, seekHint, type Segment } from './segment.js'
import type { WalRecord } from './types.js'

const MIN_CHUNK = 64 * 1024
const MAX_CHUNK = 4 * 1024 * 1024

export interface ReadSource {
  /** Live segments, oldest first. */
  readonly segments: readonly Segment[]
  /** Highest seq a reader may return (appends that have resolved). */
  readonly visibleSeq: number
}

export class Reader {
  private seg: Segment | undefined
  private fh: FileHandle | undefined
  private nextSeq = 0
  private offset = 0
  private closed = false

  constructor(private readonly source: ReadSource) {}

  /** Up to `max` records from `fromSeq` (or from the oldest retained record, if that is later). */
  async read(fromSeq: number, max: number): Promise<WalRecord[]> {
    const out: WalRecord[] = []
    const visible = this.source.visibleSeq
    if (this.closed || max <= 0 || fromSeq > visible) return out
    if (!this.fh || this.seg === undefined || this.nextSeq !== fromSeq) {
      if (!(await this.seek(fromSeq))) return out
    }
    while (out.length < max && this.nextSeq <= visible) {
      const seg = this.seg!
      if (this.nextSeq > seg.last) {
        if (!(await this.moveToSegment(this.nextSeq))) break
        continue
      }
      const chunk = Math.min(MAX_CHUNK, (max - out.length) * this.avgFrame(seg))
      const scan = await scanFrames(
        this.fh!,
        this.offset,
        seg.bytes,
        (buf, f) => {
          if (f.seq !== this.nextSeq) return false
          out.push({ seq: f.seq, appendedAt: f.appendedAt, data: buf.subarray(f.dataStart, f.dataEnd) })
          this.nextSeq++
          this.offset = f.dataEnd - f.dataStart + FRAME_HEADER_BYTES + this.offset
          return out.length < max && this.nextSeq <= visible
        },
        Math.max(MIN_CHUNK, chunk),
      )
      const owed = out.length < max && this.nextSeq <= Math.min(visible, seg.last)
      if (scan.end === ScanEnd.Bad || owed) {
        const why = scan.end === ScanEnd.Bad ? 'no longer verifies' : scan.end === ScanEnd.Stopped ? 'has another seq there' : 'is missing'
        throw new WalCorruptError(
          `WAL segment ${seg.path} is damaged at byte ${scan.offset}: record ${this.nextSeq} was written there but ${why}; the disk or another process changed the file. Restore it, or stop and move it aside to accept losing its records`,
          seg.path,
          scan.offset,
        )
      }
    }
    return out
  }

  async close(): Promise<void> {
    this.closed = true
    await this.reset()
  }

  /** Forgets the cursor (the next read seeks afresh). */
  async reset(): Promise<void> {
    const fh = this.fh
    this.fh = undefined
    this.seg = undefined
    await fh?.close()
  }

  /** Positions the cursor on `seq` (or the oldest retained record after it). False when there is nothing there. */
  private async seek(seq: number): Promise<boolean> {
    const segs = this.source.segments
    if (segs.length === 0) return false
    let i = findSegment(segs, seq)
    if (i < 0) {
      i = 0
      seq = segs[0].base
    }
    const seg = segs[i]
    if (seq > seg.last) return this.moveToSegment(seq)
    await this.openSegment(seg)
    const hint = seekHint(seg, seq)
    this.nextSeq = hint.seq
    this.offset = hint.offset
    if (hint.seq < seq) {
      // Skip forward from the indexed record (at most INDEX_EVERY - 1 frames).
      const scan = await scanFrames(
        this.fh!,
        this.offset,
        seg.bytes,
        (_b, f, at) => {
          this.offset = at
          this.nextSeq = f.seq
          return f.seq < seq
        },
        MIN_CHUNK,
      )
      if (this.nextSeq !== seq) throw new WalCorruptError(`WAL segment ${seg.path}: record ${seq} not found from byte ${hint.offset} (${scan.end})`, seg.path, scan.offset)
    }
    return true
  }

  /** Moves to the segment that starts the records after the current one. */
  private async moveToSegment(seq: number): Promise<boolean> {
    const segs = this.source.segments
    const i = findSegment(segs, seq)
    const seg = i >= 0 && segs[i].last >= seq ? segs[i] : segs.find((s) => s.base >= seq && s.last >= s.base)
    if (!seg || seg === this.seg) return false
    await this.openSegment(seg)
    this.nextSeq = seg.base
    this.offset = SEGMENT_HEADER_BYTES
    if (seq > seg.base) return this.seek(seq)
    return true
  }

  private async openSegment(seg: Segment): Promise<void> {
    if (this.seg === seg && this.fh) return
    await this.fh?.close()
    this.fh = undefined
    this.fh = await open(seg.path, 'r')
    this.seg = seg
  }

  private avgFrame(seg: Segment): number {
    const n = seg.last - seg.base + 1
    return n > 0 ? Math.ceil((seg.bytes - SEGMENT_HEADER_BYTES) / n) : 256
  }
}

/** reader.read, looking again when the segment it was about to open was deleted (acked) meanwhile. */
export async function readRetrying(reader: Reader, fromSeq: number, max: number): Promise<WalRecord[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await reader.read(fromSeq, max)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err
      await reader.reset()
    }
  }
}
