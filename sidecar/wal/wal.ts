import { mkdir, rm } from 'node:fs/promises'
import { writeCheckpoint } from './checkpoint.js'
import { resolveWalConfig, type WalConfig, type WalOptions } from './config.js'
import { walClosed, WalError, WalErrorCode, walIoFailure } from './errors.js'
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js'
import { lockDir, type DirLock } from './lock.js'
import { Reader, readRetrying } from './reader.js'
import { recover, type Recovered } from './recovery.js'
import { findSegment, locate, type Segment } from './segment.js'
import { Space, type Admission } from './space.js'
import type { AppendResult, InPlaceVisitor, TailOptions, Wal, WalRecord, WalRecovery, WalStats } from './types.js'
import { AppendSignal, tailRecords, type TailHost } from './tail.js'
import { SegmentWriter, type WrittenRun } from './writer.js'
import { ChunkLedger } from '../../schemas/chunks.js'

/** A group commit writes at most this many bytes of frames at once (bigger single calls still go whole). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024
/** Writes of this many bytes up to SLAB_BYTES are cut from slabs, cut from again once all their writes are acked. */
const MIN_SLAB_WRITE = 64 * 1024
const SLAB_BYTES = 8 * 1024 * 1024
/** Free slabs kept at most. */
const FREE_SLABS = 4

/** Opens (creating if needed) the WAL in `options.dir`: takes the lock, recovers, and is ready to append. */
export async function openWal(options: WalOptions): Promise<Wal> {
  const config = resolveWalConfig(options)
  await mkdir(config.dir, { recursive: true })
  const lock = await lockDir(config.dir)
  try {
    const recovered = await recover(config.dir)
    const wal = new WalImpl(config, lock, recovered)
    await wal.start()
    return wal
  } catch (err) {
    await lock.release()
    throw err
  }
}

type FirstUnacked = Recovered['firstUnacked']

class WalImpl implements Wal, TailHost {
  readonly recovery: WalRecovery
  readonly segments: Segment[]
  private readonly writer: SegmentWriter
  private readonly space: Space
  private readonly reader: Reader
  readonly readers = new Set<Reader>()
  readonly appended = new AppendSignal()
  private visible: number
  private persistedAck: number
  private targetAck: number
  private firstUnacked: FirstUnacked
  private readonly queue: Admission[] = []
  private writing = false
  private syncDue = false
  private syncTimer: NodeJS.Timeout | undefined
  private ackChain: Promise<void> = Promise.resolve()
  private readChain: Promise<unknown> = Promise.resolve()
  private state: 'open' | 'closing' | 'closed' = 'open'
  private closing: Promise<void> | undefined
  private failure: WalError | undefined
  private idleWaiters: (() => void)[] = []
  /**
   * The records written lately and not acked yet, oldest first, consecutive seqs: the drain reads
   * what was just appended from here, not from the file (no read, no CRC check of bytes this
   * process wrote a moment ago). The groups of frames as written (one object per group, not per
   * record: they live until the records are acked); the first `recentSkip` records of the one at
   * `recentHead` are forgotten already. Bounded by config.recentBytes.
   */
  private recent: WrittenRun[] = []
  private recentHead = 0
  private recentSkip = 0
  private recentBytes = 0
  /**
   * Writes of 64 KiB or more are cut one after the other from slabs of SLAB_BYTES, and a slab all
   * of whose writes were acked is cut from again (`allocate`, `reuse`): see ChunkLedger. Made at
   * the first such write; `slabAt` is where the next one is cut from.
   */
  private slabs: ChunkLedger | undefined
  private slabAt = 0
  private readonly c = { appended: 0, appendedBytes: 0, acked: 0, segmentsDeleted: 0 }

  constructor(
    private readonly config: WalConfig,
    private readonly lock: DirLock,
    recovered: Recovered,
  ) {
    this.recovery = Object.freeze(recovered.report)
    this.segments = recovered.segments
    this.visible = recovered.report.lastSeq
    this.persistedAck = this.targetAck = recovered.report.ackedSeq
    this.firstUnacked = recovered.firstUnacked
    this.writer = new SegmentWriter(config.dir, this.segments, config.segmentBytes, this.visible + 1, (n) => this.allocate(n))
    this.space = new Space(
      config,
      this.segments.reduce((n, s) => n + s.bytes, 0),
      (a) => this.admit(a),
    )
    this.reader = new Reader(this)
  }

  async start(): Promise<void> {
    await this.writer.resume()
  }

  isClosed(): boolean {
    return this.state === 'closed'
  }

  get visibleSeq(): number {
    return this.visible
  }
  get lastSeq(): number {
    return this.visible
  }
  get ackedSeq(): number {
    return this.persistedAck
  }

  append(input: readonly Uint8Array[] | Uint8Array): Promise<AppendResult> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.state !== 'open') return Promise.reject(walClosed(this.config.dir, 'append'))
    // The array is copied (the caller may reuse it); the bytes are copied when written.
    const records = input instanceof Uint8Array ? [input] : Array.isArray(input) ? input.slice() : input
    if (!Array.isArray(records) || records.some((r) => !(r instanceof Uint8Array))) {
      return Promise.reject(new TypeError('Wal.append takes a Uint8Array or an array of Uint8Array'))
    }
    if (records.length === 0) {
      return Promise.resolve({ firstSeq: this.visible + 1, lastSeq: this.visible, count: 0, durable: this.config.fsync !== 'interval' })
    }
    let frames = 0
    for (const r of records) frames += FRAME_HEADER_BYTES + r.length
    return this.space.request(records, frames, this.config.now())
  }

  read(fromSeq: number, max: number): Promise<WalRecord[]> {
    if (!Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(max) || max < 0) {
      return Promise.reject(new TypeError(`Wal.read takes a seq and a count (integers), got ${String(fromSeq)}, ${String(max)}`))
    }
    if (this.state === 'closed') return Promise.reject(walClosed(this.config.dir, 'read'))
    if (max > 0 && this.recentRun(fromSeq) >= 0) return Promise.resolve(this.readRecent(fromSeq, max))
    const p = this.readChain.then(() => readRetrying(this.reader, fromSeq, max))
    this.readChain = p.catch(() => undefined)
    return p
  }

  readInPlace(fromSeq: number, max: number, visit: InPlaceVisitor): number {
    if (!Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(max) || max < 1 || this.state === 'closed') return -1
    let r = this.recentRun(fromSeq)
    if (r < 0) return -1
    let n = 0
    for (let seq = fromSeq; r < this.recent.length && n < max; r++) {
      const { buf, starts, appendedAt, firstSeq, count } = this.recent[r]
      for (let i = seq - firstSeq; i < count && n < max; i++, seq++, n++) visit(seq, appendedAt[i], buf, starts[i] + FRAME_HEADER_BYTES, starts[i + 1])
    }
    return n
  }

  tail(fromSeq: number, options?: TailOptions): AsyncIterableIterator<WalRecord> {
    return tailRecords(this, fromSeq, options)
  }

  ack(uptoSeq: number): Promise<void> {
    if (!Number.isSafeInteger(uptoSeq) || uptoSeq < 0) return Promise.reject(new TypeError(`Wal.ack takes a seq (non-negative integer), got ${String(uptoSeq)}`))
    if (this.state !== 'open') return Promise.reject(walClosed(this.config.dir, 'ack'))
    if (uptoSeq > this.visible) {
      return Promise.reject(
        new WalError(WalErrorCode.AckBeyondEnd, `Wal.ack(${uptoSeq}) is past the last appended record (${this.visible}) in ${this.config.dir}: ack only seqs read from this WAL`),
      )
    }
    if (uptoSeq > this.targetAck) this.targetAck = uptoSeq
    const p = this.ackChain.then(() => this.applyAck())
    this.ackChain = p.catch(() => undefined)
    return p
  }

  stats(): WalStats {
    const f = this.firstUnacked
    let depthBytes = 0
    if (f) {
      for (let i = Math.max(0, findSegment(this.segments, f.seq)); i < this.segments.length; i++) {
        const s = this.segments[i]
        depthBytes += s.base === f.segBase ? s.bytes - f.offset : s.bytes - SEGMENT_HEADER_BYTES
      }
    }
    const used = this.space.usedBytes
    return {
      depthRecords: f ? this.visible - f.seq + 1 : 0,
      depthBytes,
      oldestUnackedSeq: f?.seq,
      oldestUnackedAppendedAt: f?.appendedAt,
      lastSeq: this.visible,
      ackedSeq: this.persistedAck,
      segments: this.segments.length,
      diskBytes: this.space.diskBytes,
      maxBytes: this.config.maxBytes,
      fullness: Math.min(1, used / this.config.maxBytes),
      fsync: this.config.fsync,
      whenFull: this.config.whenFull,
      counters: { ...this.c, ...this.space.counters, fsyncs: this.writer.fsyncs },
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  // --- commit loop -------------------------------------------------------

  private admit(a: Admission): void {
    this.queue.push(a)
    this.kick()
  }

  private kick(): void {
    if (this.writing || (this.queue.length === 0 && !this.syncDue)) return
    this.writing = true
    void this.commitLoop()
  }

  private async commitLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) {
          for (const a of this.queue.splice(0)) {
            this.space.settle(a)
            a.reject(this.failure)
          }
        }
        if (this.queue.length > 0) {
          await this.writeBatch(this.takeBatch())
        } else if (this.syncDue) {
          this.syncDue = false
          await this.writer.syncActive().catch((err: unknown) => this.fail('fsync', err))
        } else break
      }
    } finally {
      this.writing = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  private takeBatch(): Admission[] {
    if (this.config.fsync === 'always') return [this.queue.shift()!]
    let n = 0
    let bytes = 0
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n].frames <= MAX_BATCH_BYTES)) bytes += this.queue[n++].frames
    return this.queue.splice(0, n)
  }

  private async writeBatch(batch: Admission[]): Promise<void> {
    const sync = this.config.fsync !== 'interval'
    const written: WrittenRun[] = []
    let out
    try {
      await this.reclaim(true)
      out = await this.writer.write(batch, sync, written)
    } catch (err) {
      const failure = this.fail('write', err)
      for (const a of batch) {
        this.space.settle(a)
        a.reject(failure)
      }
      return
    }
    this.firstUnacked ??= { seq: out.firstSeq, segBase: out.firstSegBase, offset: out.firstOffset, appendedAt: batch[0].at }
    this.remember(written)
    this.visible = out.lastSeq
    let seq = out.firstSeq
    for (const a of batch) {
      const count = a.records.length
      this.c.appended += count
      for (const r of a.records) this.c.appendedBytes += r.length
      this.space.settle(a)
      a.resolve({ firstSeq: seq, lastSeq: seq + count - 1, count, durable: sync })
      seq += count
    }
    this.space.wrote(out.bytes)
    this.appended.notify()
    if (!sync && this.syncTimer === undefined) {
      this.syncTimer = setTimeout(() => {
        this.syncTimer = undefined
        this.syncDue = true
        this.kick()
      }, this.config.fsyncIntervalMs)
      this.syncTimer.unref()
    }
  }

  // --- records written lately (read() and ack() use them instead of the file) ---

  private remember(written: readonly WrittenRun[]): void {
    if (this.config.recentBytes === 0) return
    for (const w of written) {
      this.recent.push(w)
      this.recentBytes += w.starts[w.count] - w.starts[0] - w.count * FRAME_HEADER_BYTES
    }
    while (this.recentBytes > this.config.recentBytes && this.recentHead < this.recent.length) this.forgetOldest()
    this.compactRecent()
  }

  /** The buffer for a write of `n` bytes: cut from a slab when the write is large. */
  private allocate(n: number): Buffer {
    if (n < MIN_SLAB_WRITE || n > SLAB_BYTES || this.config.recentBytes === 0) return Buffer.allocUnsafe(n)
    const slabs = (this.slabs ??= new ChunkLedger(SLAB_BYTES, FREE_SLABS))
    let slab = slabs.current
    if (this.slabAt + n > SLAB_BYTES) {
      slab = slabs.next(n)
      this.slabAt = 0
    }
    slabs.lent()
    const buf = slab.subarray(this.slabAt, this.slabAt + n)
    this.slabAt += n
    return buf
  }

  /**
   * A write whose records are all acked (`acked`), or that was forgotten before (not acked: a
   * reader may still hold its records, so its slab is never cut from again).
   */
  private reuse(run: WrittenRun, acked: boolean): void {
    this.slabs?.back(run.buf.buffer, acked)
  }

  /** Forgets the oldest record kept. */
  private forgetOldest(): void {
    const run = this.recent[this.recentHead]
    const i = this.recentSkip
    this.recentBytes -= run.starts[i + 1] - run.starts[i] - FRAME_HEADER_BYTES
    if (++this.recentSkip === run.count) {
      this.recentHead++
      this.recentSkip = 0
      this.reuse(run, run.firstSeq + run.count - 1 <= this.persistedAck)
    }
  }

  /** Forgets the records up to `seq` (acked). */
  private forgetUpTo(seq: number): void {
    while (this.recentHead < this.recent.length) {
      const run = this.recent[this.recentHead]
      if (run.firstSeq + this.recentSkip > seq) break
      if (run.firstSeq + run.count - 1 <= seq) {
        this.recentBytes -= run.starts[run.count] - run.starts[this.recentSkip] - (run.count - this.recentSkip) * FRAME_HEADER_BYTES
        this.recentHead++
        this.recentSkip = 0
        this.reuse(run, true)
      } else while (run.firstSeq + this.recentSkip <= seq) this.forgetOldest()
    }
    this.compactRecent()
  }

  private compactRecent(): void {
    if (this.recentHead === this.recent.length) {
      this.recent = []
      this.recentHead = 0
      this.recentSkip = 0
    } else if (this.recentHead > 64 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead)
      this.recentHead = 0
    }
  }

  /** The index in `recent` of the group that holds record `seq`, or -1 when it is not kept in memory. */
  private recentRun(seq: number): number {
    let lo = this.recentHead
    let hi = this.recent.length - 1
    if (lo > hi || seq < this.recent[lo].firstSeq + this.recentSkip) return -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const run = this.recent[mid]
      if (seq < run.firstSeq) hi = mid - 1
      else if (seq >= run.firstSeq + run.count) lo = mid + 1
      else return mid
    }
    return -1
  }

  /** Up to `max` records from `seq` on, as far as they are kept in memory (`seq` is). */
  private readRecent(seq: number, max: number): WalRecord[] {
    const out: WalRecord[] = []
    for (let r = this.recentRun(seq); r < this.recent.length && out.length < max; r++) {
      const run = this.recent[r]
      const { buf, starts, appendedAt } = run
      for (let i = seq - run.firstSeq; i < run.count && out.length < max; i++, seq++) {
        out.push({ seq, appendedAt: appendedAt[i], data: buf.subarray(starts[i] + FRAME_HEADER_BYTES, starts[i + 1]) })
      }
    }
    return out
  }

  private fail(what: string, err: unknown): WalError {
    this.failure ??= walIoFailure(this.config.dir, what, err)
    return this.failure
  }

  // --- acks and truncation -----------------------------------------------

  private async applyAck(): Promise<void> {
    const target = this.targetAck
    if (target <= this.persistedAck) return
    await writeCheckpoint(this.config.dir, target)
    this.c.acked += target - this.persistedAck
    this.persistedAck = target
    this.forgetUpTo(target)
    const seq = target + 1
    if (!this.firstUnacked || this.firstUnacked.seq < seq) {
      const r = this.recentRun(seq)
      const kept = r >= 0 ? this.recent[r] : undefined
      if (seq > this.visible) this.firstUnacked = undefined
      else if (kept) {
        const i = seq - kept.firstSeq
        this.firstUnacked = { seq, segBase: kept.segBase, offset: kept.fileOffset + kept.starts[i], appendedAt: kept.appendedAt[i] }
      } else {
        const seg = this.segments[findSegment(this.segments, seq)]
        const at = seg ? await locate(seg, seq) : undefined
        if (at && this.persistedAck + 1 === seq) this.firstUnacked = { seq, segBase: seg.base, ...at }
      }
    }
    await this.reclaim(!this.writing)
  }

  /** Deletes every segment whose records are all acked; the active one only when `mayRetire` (no write in flight). */
  private async reclaim(mayRetire: boolean): Promise<void> {
    const acked = this.persistedAck
    if (mayRetire) await this.writer.retireIfAcked(acked)
    const active = this.writer.activeSegment
    let n = 0
    while (n < this.segments.length && this.segments[n] !== active && this.segments[n].last <= acked) n++
    if (n === 0) return
    // Out of the shared list first (synchronously), then off the disk.
    const doomed = this.segments.splice(0, n)
    for (const s of doomed) {
      this.space.freed(s.bytes)
      await rm(s.path, { force: true })
      this.c.segmentsDeleted++
    }
    this.space.wake()
  }

  private async doClose(): Promise<void> {
    this.state = 'closing'
    this.recent = []
    this.recentHead = 0
    this.recentSkip = 0
    this.recentBytes = 0
    this.space.closeAll(walClosed(this.config.dir, 'append'))
    if (this.writing) await new Promise<void>((r) => this.idleWaiters.push(r))
    clearTimeout(this.syncTimer)
    this.syncTimer = undefined
    try {
      await this.writer.syncActive()
      await this.ackChain
      await this.writer.close()
    } finally {
      this.state = 'closed'
      this.appended.notify()
      await this.reader.close()
      await Promise.all([...this.readers].map((r) => r.close()))
      await this.lock.release()
    }
  }
}
