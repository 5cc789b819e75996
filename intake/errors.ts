import { CodedError } from '../schemas/index.js'

/**
 * Why one record was refused on its way in — by the sidecar's accept() (its AcceptReason) and
 * by every door: a fixed set, in answers and as metric labels. Never reused, never an id.
 */
export const RecordReason = {
  /** An NDJSON line that is not JSON. */
  NotJson: 'not_json',
  /** The record does not have the edge shape (once mapped; the message says which field and why). */
  Invalid: 'invalid',
  /** It names another source: a sidecar speaks only for itself. */
  WrongSource: 'wrong_source',
  /** The redaction manifest refused it (too large, too many fields, malformed): never sent unredacted. */
  ScrubRefused: 'scrub_refused',
  /** The sidecar's WAL is at its size bound (policy `refuse`, or a blocked append timed out): send it again later. */
  WalFull: 'wal_full',
  /** An NDJSON line longer than the door allows. */
  LineTooLong: 'line_too_long',
} as const
export type RecordReason = (typeof RecordReason)[keyof typeof RecordReason]

/**
 * Why a door dropped a record or refused a request: the record reasons and the door's own, used
 * as the `reason` label of `ben_intake_dropped_total` and in answers.
 */
export const DropReason = {
  ...RecordReason,
  /** JetStream did not store it (`ben up`): send again later (the answer is retryable). */
  PublishFailed: 'publish_failed',
  /** A metric point with no recorded value (OTLP flag), or of a kind with nothing to map. */
  NoValue: 'no_value',
  /** The body is not what its content type says (malformed protobuf or JSON). */
  Malformed: 'malformed',
  /** The content type or encoding is not one the door speaks. */
  UnsupportedMedia: 'unsupported_media',
  /** The request or frame is larger than the door allows. */
  TooLarge: 'too_large',
  /** A syslog frame that is cut off or whose length prefix is wrong. */
  BadFrame: 'bad_frame',
  /** A syslog message that is neither RFC 5424 nor RFC 3164. */
  Unparsable: 'unparsable',
  /** More connections than the door allows: the newest is closed. */
  TooManyConnections: 'too_many_connections',
  /** A UDP door's queue is full (UDP cannot slow the sender): the newest messages are dropped. */
  Overloaded: 'overloaded',
  /** A scrape target did not answer, or answered with an error. */
  TargetDown: 'target_down',
  /** Some other reason (an internal error answering a request). */
  Other: 'other',
} as const
export type DropReason = (typeof DropReason)[keyof typeof DropReason]

export const IntakeErrorCode = {
  /** An option is missing or malformed (the message names it). */
  Config: 'intake_config',
  /** A door's address cannot be bound. */
  Listen: 'intake_listen',
} as const
export type IntakeErrorCode = (typeof IntakeErrorCode)[keyof typeof IntakeErrorCode]

export class IntakeError extends CodedError<IntakeErrorCode> {
  override name = 'IntakeError'
}
export const isIntakeError = (err: unknown): err is IntakeError => err instanceof IntakeError
