/**
 * The size bound. An append is admitted when the segment files on disk, plus what is
 * admitted but not yet written, plus its own frames (and room for segment headers) fit
 * in maxBytes. Otherwise 'refuse' rejects it at once and 'block' queues it (FIFO) until
 * acks free whole segments, or until blockTimeoutMs. Every refusal is counted and
 * reported to the caller; nothing is dropped silently.
 */
import type { WalConfig } from './config.js'
import { WalError, WalErrorCode, WalFullError } from './errors.js'
import { SEGMENT_HEADER_BYTES } from './format.js'
import type { AppendResult } from './types.js'

export interface Admission {
  readonly records: readonly Uint8Array[]
  /** Frame bytes (headers + payloads) of the records. */
  readonly frames: number
  /** Bytes held against maxBytes until written: frames plus segment-header headroom. */
  readonly reserve: number
  /** Append time stamped on each record. */
  readonly at: number
  readonly resolve: (r: AppendResult) => void
  readonly reject: (err: Error) => void
}

interface Waiter {
  readonly a: Admission
  timer: NodeJS.Timeout | undefined
}

export class Space {
  diskBytes: number
  private reserved = 0
  private readonly waiters: Waiter[] = []
  readonly counters = { refused: 0, blockedWaits: 0, blockTimeouts: 0 }

  constructor(
    private readonly config: WalConfig,
    diskBytes: number,
    private readonly admit: (a: Admission) => void,
  ) {
    this.diskBytes = diskBytes
  }

  get usedBytes(): number {
    return this.diskBytes + this.reserved
  }

  request(records: readonly Uint8Array[], frames: number, at: number): Promise<AppendResult> {
    const { maxBytes, segmentBytes, whenFull, blockTimeoutMs } = this.config
    // A call may start a new segment, and one more per segmentBytes it spans.
    const reserve = frames + SEGMENT_HEADER_BYTES * (2 + Math.floor(frames / segmentBytes))
    return new Promise<AppendResult>((resolve, reject) => {
      const a: Admission = { records, frames, reserve, at, resolve, reject }
      if (reserve > maxBytes) {
        this.counters.refused += records.length
        reject(
          new WalError(
            WalErrorCode.TooLarge,
            `WAL ${this.config.dir}: an append of ${records.length} record(s), ${frames} bytes, can never fit in maxBytes ${maxBytes}: split it into smaller calls or raise maxBytes`,
          ),
        )
        return
      }
      if (this.waiters.length === 0 && this.fits(reserve)) {
        this.take(a)
        return
      }
      if (whenFull === 'refuse') {
        this.refuse(a, 'whenFull is refuse')
        return
      }
      this.counters.blockedWaits++
      const w: Waiter = { a, timer: undefined }
      if (blockTimeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w)
          if (i < 0) return
          this.waiters.splice(i, 1)
          this.counters.blockTimeouts++
          this.refuse(a, `it waited blockTimeoutMs (${blockTimeoutMs} ms) for space`)
          this.wake() // the next waiter may be smaller
        }, blockTimeoutMs)
      }
      this.waiters.push(w)
    })
  }

  /** The admission was written (or failed): its reservation is released. */
  settle(a: Admission): void {
    this.reserved -= a.reserve
  }

  /** Bytes appended to segment files. */
  wrote(bytes: number): void {
    this.diskBytes += bytes
    this.wake()
  }

  /** Bytes of a deleted segment file. */
  freed(bytes: number): void {
    this.diskBytes -= bytes
  }

  /** Admits blocked appends, oldest first, while they fit. */
  wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0].a.reserve)) {
      const w = this.waiters.shift()!
      clearTimeout(w.timer)
      this.take(w.a)
    }
  }

  /** Rejects every blocked append (the WAL is closing). */
  closeAll(err: Error): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer)
      w.a.reject(err)
    }
  }

  private fits(reserve: number): boolean {
    return this.diskBytes + this.reserved + reserve <= this.config.maxBytes
  }

  private take(a: Admission): void {
    this.reserved += a.reserve
    this.admit(a)
  }

  private refuse(a: Admission, why: string): void {
    this.counters.refused += a.records.length
    const used = this.usedBytes
    const { maxBytes, dir } = this.config
    a.reject(
      new WalFullError(
        `WAL ${dir} is full: ${used} of ${maxBytes} bytes (${((100 * used) / maxBytes).toFixed(1)}%) are taken by records the publisher has not acked yet, and this append of ${a.records.length} record(s) needs ${a.reserve}; refused because ${why}. ` +
          'Nothing was written. The bus is probably down or slow: retry after the drainer acks, shed load upstream, or raise maxBytes',
        used,
        maxBytes,
        a.reserve,
      ),
    )
  }
}
