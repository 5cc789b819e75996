/**
 * Owns the active segment: turns a batch of append calls into frames, writes them
 * (rolling to a new segment at segmentBytes), and fsyncs when asked. Only one write
 * runs at a time (the Wal's commit loop guarantees it).
 */
import { open, type FileHandle } from 'node:fs/promises'
import { syncDir } from './checkpoint.js'
import { encodeFrame, encodeSegmentHeader, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js'
import { newSegment, noteOffset, type Segment } from './segment.js'

export interface WriteCall {
  readonly records: readonly Uint8Array[]
  /** Append time stamped on each of its records (epoch ms). */
  readonly at: number
}

/**
 * The records of one group just written, back to back in `buf` (the buffer that was written, which
 * the WAL owns): record `firstSeq + i` is the frame `buf[starts[i], starts[i + 1])`, its bytes
 * after the frame's head. One object and two typed arrays for the group, not an object and a view
 * per record: the WAL keeps them until the records are acked.
 */
export interface WrittenRun {
  readonly firstSeq: number
  readonly count: number
  readonly buf: Buffer
  /** count + 1 entries: where each frame starts in `buf`, then where the last one ends. */
  readonly starts: Int32Array
  /** Each record's append time (epoch ms). */
  readonly appendedAt: Float64Array
  readonly segBase: number
  /** Where `buf` starts in the segment file. */
  readonly fileOffset: number
}

export interface WriteOutcome {
  readonly firstSeq: number
  readonly lastSeq: number
  readonly bytes: number
  /** Where the first record of the batch landed. */
  readonly firstSegBase: number
  readonly firstOffset: number
}

interface Group {
  seg: Segment
  isNew: boolean
  start: number
  bytes: number
  calls: { call: WriteCall; from: number; to: number }[]
}

export class SegmentWriter {
  private active: Segment | undefined
  private fh: FileHandle | undefined
  private dirty = false
  private dirPending = false
  fsyncs = 0

  constructor(
    private readonly dir: string,
    /** The Wal's list of live segments, oldest first; the writer appends new ones. */
    private readonly segments: Segment[],
    private readonly segmentBytes: number,
    private nextSeq: number,
    /** The buffer a group of frames is written into (the WAL's: it may be memory written before). */
    private readonly allocate: (bytes: number) => Buffer = Buffer.allocUnsafe,
  ) {}

  /** Continues the last segment when it is contiguous with nextSeq and has room; otherwise starts fresh on first write. */
  async resume(): Promise<void> {
    const last = this.segments[this.segments.length - 1]
    if (last && last.last + 1 === this.nextSeq && last.bytes < this.segmentBytes) {
      this.fh = await open(last.path, 'r+')
      this.active = last
    }
  }

  get activeSegment(): Segment | undefined {
    return this.active
  }

  /**
   * Writes every record of `calls` in order; fsyncs the data (and any new file's directory entry)
   * when `sync`. `written`, when given, receives each group of records as written (the frames
   * written, which the WAL owns: the caller's buffers may be reused after the append).
   */
  async write(calls: readonly WriteCall[], sync: boolean, written?: WrittenRun[]): Promise<WriteOutcome> {
    const firstSeq = this.nextSeq
    const groups = this.plan(calls)
    let bytes = 0
    for (const g of groups) {
      if (g.isNew) {
        await this.finishActive()
        this.fh = await open(g.seg.path, 'wx')
        this.active = g.seg
      }
      const buf = this.allocate(g.bytes)
      let off = 0
      if (g.isNew) off = encodeSegmentHeader(g.seg.base).copy(buf, 0)
      const runSeq = g.seg.last + 1
      let count = 0
      for (const { from, to } of g.calls) count += to - from
      const starts = new Int32Array(count + 1)
      const appendedAt = new Float64Array(count)
      let seq = runSeq
      let n = 0
      for (const { call, from, to } of g.calls) {
        for (let r = from; r < to; r++) {
          starts[n] = off
          appendedAt[n++] = call.at
          off = encodeFrame(buf, off, seq++, call.at, call.records[r])
        }
      }
      starts[count] = off
      if (count > 0) written?.push({ firstSeq: runSeq, count, buf, starts, appendedAt, segBase: g.seg.base, fileOffset: g.start })
      await writeAll(this.fh!, buf, g.start)
      this.dirty = true
      if (g.isNew) this.dirPending = true
      if (g.isNew && sync) await this.syncActive()
      // Published to readers only now that the bytes are in the file.
      for (let i = 0; i < count; i++) noteOffset(g.seg, runSeq + i, g.start + starts[i])
      g.seg.last = seq - 1
      g.seg.bytes = g.start + g.bytes
      if (g.isNew) this.segments.push(g.seg)
      bytes += g.bytes
    }
    if (sync) await this.syncActive()
    const first = groups[0]
    return {
      firstSeq,
      lastSeq: this.nextSeq - 1,
      bytes,
      firstSegBase: first.seg.base,
      firstOffset: first.start + (first.isNew ? SEGMENT_HEADER_BYTES : 0),
    }
  }

  /** fsync of the active segment if anything was written since the last one. */
  async syncActive(): Promise<void> {
    if (!this.fh || !this.dirty) return
    this.dirty = false
    this.fsyncs++
    await this.fh.sync()
    if (this.dirPending) {
      // The new segment's directory entry, so the file itself survives a power loss.
      this.dirPending = false
      await syncDir(this.dir)
    }
  }

  /** Closes the active segment when every record in it is acked, so the Wal can delete it. */
  async retireIfAcked(acked: number): Promise<Segment | undefined> {
    const a = this.active
    if (!a || a.last < a.base || a.last > acked) return undefined
    // Forget it synchronously, so a write that starts while the close is pending opens a new segment.
    const fh = this.fh
    this.fh = undefined
    this.active = undefined
    this.dirty = false
    await fh?.close()
    return a
  }

  async close(): Promise<void> {
    await this.finishActive()
  }

  private async finishActive(): Promise<void> {
    if (!this.fh) return
    await this.syncActive()
    await this.fh.close()
    this.fh = undefined
    this.active = undefined
  }

  /** Splits the batch into per-segment groups; assigns seqs (advances nextSeq). */
  private plan(calls: readonly WriteCall[]): Group[] {
    const groups: Group[] = []
    let g: Group | undefined = this.active ? { seg: this.active, isNew: false, start: this.active.bytes, bytes: 0, calls: [] } : undefined
    for (const call of calls) {
      let from = 0
      for (let i = 0; i < call.records.length; i++) {
        const fb = FRAME_HEADER_BYTES + call.records[i].length
        const used = g ? g.start + g.bytes : 0
        const hasRecords = g !== undefined && (g.bytes > (g.isNew ? SEGMENT_HEADER_BYTES : 0) || g.start > SEGMENT_HEADER_BYTES)
        if (!g || (hasRecords && used + fb > this.segmentBytes)) {
          if (g && i > from) g.calls.push({ call, from, to: i })
          if (g && g.bytes > 0) groups.push(g)
          from = i
          const seq = this.nextSeq
          g = { seg: newSegment(this.dir, seq), isNew: true, start: 0, bytes: SEGMENT_HEADER_BYTES, calls: [] }
        }
        g.bytes += fb
        this.nextSeq++
      }
      if (g && call.records.length > from) g.calls.push({ call, from, to: call.records.length })
    }
    if (g && g.bytes > 0) groups.push(g)
    return groups
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done)
    done += bytesWritten
  }
}
