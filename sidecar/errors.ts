import { CodedError } from '../schemas/index.js'
/**
 * The sidecar's failures and refusal reasons. Codes label metrics and logs and are never reused.
 */

/** Why one input was refused at the edge (accept() and POST /facts). A fixed set. */
export const AcceptReason = {
  /** The line is not JSON (NDJSON input only). */
  NotJson: 'not_json',
  /** The object does not have the edge shape (zod said which field and why). */
  Invalid: 'invalid',
  /** `source` names another source: a sidecar speaks only for itself. */
  WrongSource: 'wrong_source',
  /** The redaction manifest refused the fact (too large, too many fields, malformed): never sent unredacted. */
  ScrubRefused: 'scrub_refused',
  /** The WAL is at its size bound and its policy is `refuse` (or a blocked append timed out). Send it again later. */
  WalFull: 'wal_full',
  /** An NDJSON line is longer than the listener allows. */
  LineTooLong: 'line_too_long',
} as const
export type AcceptReason = (typeof AcceptReason)[keyof typeof AcceptReason]

export const SidecarErrorCode = {
  /** An option is missing or out of range (the message names it). */
  Config: 'sidecar_config',
  /** The sidecar is closed (or closing). */
  Closed: 'sidecar_closed',
  /** `--listen` names a non-loopback address, or the address cannot be bound. */
  Listen: 'sidecar_listen',
  /** The WAL failed in a way the sidecar cannot work around (I/O error, corruption); the cause is attached. */
  Wal: 'sidecar_wal',
  /** A handler was registered for a verb the verb registry does not define. */
  UnknownVerb: 'sidecar_unknown_verb',
} as const
export type SidecarErrorCode = (typeof SidecarErrorCode)[keyof typeof SidecarErrorCode]

export class SidecarError extends CodedError<SidecarErrorCode> {
  override name = 'SidecarError'
}

export const isSidecarError = (err: unknown): err is SidecarError => err instanceof SidecarError
