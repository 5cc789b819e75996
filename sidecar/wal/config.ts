import { WalError, WalErrorCode } from './errors.js'
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js'

/** When an append's bytes reach the disk for good (README.md, "Durability"). */
export const FsyncPolicy = {
  /** Each append call is written and fsynced on its own before it resolves. */
  Always: 'always',
  /** Appends that arrive while the previous write is in flight are written and fsynced together (group commit). */
  Batch: 'batch',
  /** Appends resolve once written; an fsync follows at most every fsyncIntervalMs. */
  Interval: 'interval',
} as const
export type FsyncPolicy = (typeof FsyncPolicy)[keyof typeof FsyncPolicy]

/** What an append does when the WAL holds maxBytes. Nothing is ever dropped silently. */
export const WhenFull = {
  /** Wait until ack() frees space (up to blockTimeoutMs, if set, then refuse). */
  Block: 'block',
  /** Reject at once with WalFullError. */
  Refuse: 'refuse',
} as const
export type WhenFull = (typeof WhenFull)[keyof typeof WhenFull]

export interface WalOptions {
  /** Directory of the segment files, the checkpoint and the lock. Created if missing. */
  readonly dir: string
  /** A segment is closed and a new one started once it reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number
  /** Upper bound on the bytes of all segment files. Default 1 GiB; at least 2 × segmentBytes. */
  readonly maxBytes?: number
  /** Default 'batch'. */
  readonly fsync?: FsyncPolicy
  /** For fsync 'interval': the longest a written record waits for its fsync. Default 100 ms. */
  readonly fsyncIntervalMs?: number
  /** Default 'block'. */
  readonly whenFull?: WhenFull
  /** For whenFull 'block': refuse with WalFullError after waiting this long. Default: wait until space or close. */
  readonly blockTimeoutMs?: number
  /** Wall clock for the per-record append time (tests inject one). Default Date.now. */
  readonly now?: () => number
  /**
   * Records written lately are kept in memory, up to this many payload bytes, and read() serves
   * them from there (the drain reads what was just appended: no file read, no CRC check of bytes
   * written a moment ago); acked ones are dropped. Default 32 MiB; 0 reads everything from the files.
   */
  readonly recentBytes?: number
}

export interface WalConfig {
  readonly dir: string
  readonly segmentBytes: number
  readonly maxBytes: number
  readonly fsync: FsyncPolicy
  readonly fsyncIntervalMs: number
  readonly whenFull: WhenFull
  readonly blockTimeoutMs: number | undefined
  readonly now: () => number
  readonly recentBytes: number
}

export const WalDefaults = {
  segmentBytes: 64 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
  fsync: FsyncPolicy.Batch,
  fsyncIntervalMs: 100,
  whenFull: WhenFull.Block,
  recentBytes: 32 * 1024 * 1024,
} as const

const MIN_SEGMENT_BYTES = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 1

/** Validates and normalises options once; the result is frozen. Throws WalError(wal_config) naming the field. */
export function resolveWalConfig(o: WalOptions): WalConfig {
  const bad = (field: string, rule: string): never => {
    throw new WalError(WalErrorCode.Config, `openWal: ${field} ${rule}`)
  }
  if (typeof o?.dir !== 'string' || o.dir.length === 0) bad('dir', 'must be a non-empty path to the WAL directory')
  const segmentBytes = o.segmentBytes ?? WalDefaults.segmentBytes
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
    bad('segmentBytes', `must be an integer ≥ ${MIN_SEGMENT_BYTES}, got ${String(o.segmentBytes)}`)
  }
  const maxBytes = o.maxBytes ?? Math.max(WalDefaults.maxBytes, 2 * segmentBytes)
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 2 * segmentBytes) {
    bad('maxBytes', `must be an integer ≥ 2 × segmentBytes (${2 * segmentBytes}), got ${String(o.maxBytes)}: only whole segments are freed, so the bound must hold at least two`)
  }
  const fsync = o.fsync ?? WalDefaults.fsync
  if (!Object.values(FsyncPolicy).includes(fsync)) bad('fsync', `must be one of ${Object.values(FsyncPolicy).join(', ')}, got ${String(o.fsync)}`)
  const fsyncIntervalMs = o.fsyncIntervalMs ?? WalDefaults.fsyncIntervalMs
  if (!Number.isFinite(fsyncIntervalMs) || fsyncIntervalMs < 1) bad('fsyncIntervalMs', `must be a number of milliseconds ≥ 1, got ${String(o.fsyncIntervalMs)}`)
  const whenFull = o.whenFull ?? WalDefaults.whenFull
  if (!Object.values(WhenFull).includes(whenFull)) bad('whenFull', `must be one of ${Object.values(WhenFull).join(', ')}, got ${String(o.whenFull)}`)
  const blockTimeoutMs = o.blockTimeoutMs
  if (blockTimeoutMs !== undefined && (!Number.isFinite(blockTimeoutMs) || blockTimeoutMs < 0)) {
    bad('blockTimeoutMs', `must be a number of milliseconds ≥ 0 (or left out to wait until space is freed), got ${String(blockTimeoutMs)}`)
  }
  const now = o.now ?? Date.now
  if (typeof now !== 'function') bad('now', 'must be a function returning epoch milliseconds')
  const recentBytes = o.recentBytes ?? WalDefaults.recentBytes
  if (!Number.isSafeInteger(recentBytes) || recentBytes < 0) bad('recentBytes', `must be an integer ≥ 0 (bytes kept in memory for reads; 0: none), got ${String(o.recentBytes)}`)
  return Object.freeze({ dir: o.dir, segmentBytes, maxBytes, fsync, fsyncIntervalMs, whenFull, blockTimeoutMs, now, recentBytes })
}
