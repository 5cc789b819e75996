import type { FsyncPolicy, WhenFull } from './config.js'

/**
 * One record as the drainer sees it. `data` is the exact bytes that were appended, valid until the
 * WAL is acked past the record: the memory of acked records may be written again. Copy it to keep
 * it longer.
 */
/** Takes one record read in place (`Wal.readInPlace`): its bytes are `bytes[at, end)`. */
export type InPlaceVisitor = (seq: number, appendedAt: number, bytes: Buffer, at: number, end: number) => void

export interface WalRecord {
  readonly seq: number
  /** Wall-clock time (epoch ms) when the append was accepted. */
  readonly appendedAt: number
  readonly data: Uint8Array
}

export interface AppendResult {
  /** Seq of the first record of this call (records of one call get consecutive seqs). */
  readonly firstSeq: number
  readonly lastSeq: number
  readonly count: number
  /** True when the records were fsynced before the promise resolved (fsync 'always' and 'batch'). */
  readonly durable: boolean
}

/** What open() found and did. */
export interface WalRecovery {
  /** Segment files kept after recovery. */
  readonly segments: number
  /** Records found intact in them (acked or not). */
  readonly records: number
  /** Bytes cut from the end of the last segment: a torn write from a crash. */
  readonly truncatedBytes: number
  /** Segment files deleted because every record in them was already acked. */
  readonly removedSegments: number
  /** The acked position read from the checkpoint file (0 when there is none). */
  readonly ackedSeq: number
  /** 'ok', 'missing' (fresh directory), or 'unreadable' (ignored: everything retained is redelivered). */
  readonly checkpoint: 'ok' | 'missing' | 'unreadable'
  readonly lastSeq: number
}

export interface WalCounters {
  /** Records appended (resolved) since open. */
  readonly appended: number
  readonly appendedBytes: number
  /** Records refused with WalFullError (policy 'refuse', or a 'block' wait that timed out). */
  readonly refused: number
  /** Append calls that had to wait for space (policy 'block'). */
  readonly blockedWaits: number
  /** Of those, calls that gave up after blockTimeoutMs (their records are also counted in `refused`). */
  readonly blockTimeouts: number
  /** Records acked since open. */
  readonly acked: number
  readonly fsyncs: number
  readonly segmentsDeleted: number
}

export interface WalStats {
  /** Records appended but not yet acked. */
  readonly depthRecords: number
  /** Frame bytes of those records (header + payload). */
  readonly depthBytes: number
  /** Seq of the oldest unacked record, or undefined when the WAL is drained. */
  readonly oldestUnackedSeq: number | undefined
  /** Its append time (epoch ms), or undefined. */
  readonly oldestUnackedAppendedAt: number | undefined
  readonly lastSeq: number
  readonly ackedSeq: number
  readonly segments: number
  /** Bytes of all segment files, acked or not (what maxBytes bounds). */
  readonly diskBytes: number
  readonly maxBytes: number
  /** diskBytes plus bytes admitted but not yet written, over maxBytes (0..1). */
  readonly fullness: number
  readonly fsync: FsyncPolicy
  readonly whenFull: WhenFull
  readonly counters: WalCounters
}

export interface TailOptions {
  /** Ends the iteration (the iterator returns) when aborted. */
  readonly signal?: AbortSignal
  /** Records fetched per disk read. Default 1024. */
  readonly batch?: number
}

export interface Wal extends AsyncDisposable {
  /** Appends records in order; resolves once they are written (and fsynced, per policy). See README. */
  append(records: readonly Uint8Array[] | Uint8Array): Promise<AppendResult>
  /** Up to `max` records with seq ≥ fromSeq that have been appended, in order. Empty when none yet. */
  read(fromSeq: number, max: number): Promise<WalRecord[]>
  /**
   * `read` for records still held in memory (those written lately), without a view or an object
   * per record: up to `max` records from `fromSeq` on are handed to `visit` in order, each as
   * `bytes[at, end)` (valid until the WAL is acked past it), and their count is returned; -1 when
   * `fromSeq`'s record is not in memory (or not appended yet), for `read` to read. Optional: a WAL
   * without it is read with `read`.
   */
  readInPlace?(fromSeq: number, max: number, visit: InPlaceVisitor): number
  /** Every record from fromSeq on, in order, waiting for new appends; returns when the WAL closes. */
  tail(fromSeq: number, options?: TailOptions): AsyncIterableIterator<WalRecord>
  /** Marks records ≤ uptoSeq delivered, persists that, and deletes segments wholly ≤ it. */
  ack(uptoSeq: number): Promise<void>
  /** The acked position (the drainer resumes at ackedSeq + 1). */
  readonly ackedSeq: number
  readonly lastSeq: number
  readonly recovery: WalRecovery
  stats(): WalStats
  /** Waits for queued appends, fsyncs, ends tails, refuses blocked appends, releases the lock. */
  close(): Promise<void>
}
