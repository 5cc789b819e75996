/**
 * sidecar/wal — the sidecar's write-ahead log: local telemetry survives the bus being
 * down and the process being killed mid-write. See README.md for the format and the
 * durability each fsync policy gives.
 */
export { openWal } from './wal.js'
export { FsyncPolicy, WhenFull, WalDefaults, type WalOptions } from './config.js'
export { WalError, WalErrorCode, WalFullError, WalCorruptError, isWalError, isWalFull, isWalCorrupt, isWalClosed } from './errors.js'
export type { Wal, WalRecord, InPlaceVisitor, AppendResult, WalRecovery, WalStats, WalCounters, TailOptions } from './types.js'
