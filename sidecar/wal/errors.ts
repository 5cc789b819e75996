import { CodedError } from '../../schemas/index.js'
/** Stable codes for every WAL failure. They label metrics and are never reused. */
export const WalErrorCode = {
  /** An option passed to openWal is out of range. */
  Config: 'wal_config',
  /** The WAL is at maxBytes and the policy refused the append (or a blocked append timed out). */
  Full: 'wal_full',
  /** One record can never fit (larger than maxBytes allows). */
  TooLarge: 'wal_record_too_large',
  /** A checksum, length or sequence check failed somewhere other than the torn tail. */
  Corrupt: 'wal_corrupt',
  /** The WAL was closed (or is closing) while the call was pending. */
  Closed: 'wal_closed',
  /** Another live process holds the directory lock. */
  Locked: 'wal_locked',
  /** ack() named a sequence number that was never appended. */
  AckBeyondEnd: 'wal_ack_beyond_end',
  /** A filesystem call failed; the cause is attached. */
  Io: 'wal_io',
} as const
export type WalErrorCode = (typeof WalErrorCode)[keyof typeof WalErrorCode]

export class WalError extends CodedError<WalErrorCode> {
  override name = 'WalError'
}

/** The size bound was reached. Carries how full the WAL is so callers can log or shed load. */
export class WalFullError extends WalError {
  override name = 'WalFullError'
  constructor(
    message: string,
    readonly usedBytes: number,
    readonly maxBytes: number,
    readonly requestedBytes: number,
    options?: { cause?: unknown },
  ) {
    super(WalErrorCode.Full, message, options)
  }
}

/** A record failed verification where a crash cannot explain it. Names the file and byte offset. */
export class WalCorruptError extends WalError {
  override name = 'WalCorruptError'
  constructor(
    message: string,
    readonly file: string,
    readonly offset: number,
    options?: { cause?: unknown },
  ) {
    super(WalErrorCode.Corrupt, message, options)
  }
}

export const isWalError = (err: unknown): err is WalError => err instanceof WalError
export const isWalFull = (err: unknown): err is WalFullError => err instanceof WalFullError
export const isWalCorrupt = (err: unknown): err is WalCorruptError => err instanceof WalCorruptError
export const isWalClosed = (err: unknown): err is WalError => err instanceof WalError && err.code === WalErrorCode.Closed

export const walClosed = (dir: string, what: string): WalError => new WalError(WalErrorCode.Closed, `WAL ${dir} is closed (or closing): ${what} refused. Open it again to continue`)

export const walIoFailure = (dir: string, what: string, err: unknown): WalError =>
  new WalError(
    WalErrorCode.Io,
    `WAL ${dir}: ${what} failed (${(err as Error)?.message ?? String(err)}); appends are refused from now on. Close and reopen the WAL: recovery keeps every record that reached the disk`,
    { cause: err },
  )
