/** Stable reason codes for refused input. They label metrics, so the set is fixed. */
export const RejectReason = {
  NotJson: 'not_json',
  Invalid: 'invalid',
  BadSubject: 'bad_subject',
  /** On `<prefix>.fact.<lane>.<source>` with a lane that is not metric, event, diag or alert. */
  UnknownLane: 'unknown_lane',
  UnknownSchema: 'unknown_schema',
  MissingHeader: 'missing_header',
  MalformedAvro: 'malformed_avro',
  KindMismatch: 'kind_mismatch',
  StageError: 'stage_error',
  /** Event time further ahead of arrival than BEN_MAX_FUTURE_SKEW (schemas/limits.ts). */
  FutureTs: 'future_ts',
  /** Not valid Unicode, or U+FFFD where invalid UTF-8 was replaced (schemas/limits.ts). */
  InvalidText: 'invalid_text',
  /** A source name with zero-width, bidi-control, fullwidth or other non-ASCII characters. */
  BadName: 'bad_name',
  /** A raw fact whose Nats-Msg-Id is not bound to the source of its subject (`<source>:…`). */
  MsgIdMismatch: 'msg_id_mismatch',
  /** A new series of a source that already has `limits.maxSeriesPerSource` series (detect). */
  CardinalityLimit: 'cardinality_limit',
  /** A notification that no retry could deliver (notify/). */
  Undeliverable: 'undeliverable',
} as const
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason]

export interface Rejection {
  readonly reason: RejectReason
  /** What was wrong, where, and what to do. */
  readonly message: string
}

export type Result<T, E = Rejection> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E }

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value })
export const fail = (reason: RejectReason, message: string): { ok: false; error: Rejection } => ({
  ok: false,
  error: { reason, message },
})

/**
 * The base of Ben's error classes: a stable `code` from the folder's catalogue (callers test
 * the code, never the message), `{ cause }`, and a `name` each subclass sets.
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** One problem as it is, several as a list: for errors that collect every issue of a file. */
export function problemsMessage(what: string, issues: readonly string[]): string {
  return issues.length === 1 ? issues[0] : `${issues.length} problems in ${what}:\n- ${issues.join('\n- ')}`
}

export class SchemaError extends CodedError {
  override name = 'SchemaError'
}
export const isSchemaError = (err: unknown): err is SchemaError => err instanceof SchemaError

/**
 * A value of refused input as text for its rejection message, without calling its toString (an
 * object's may be missing or throw): a string as it is (cut at `max` characters, with `…`), a
 * number, boolean, bigint, null or undefined as String() writes it, anything else as its type in
 * parentheses, `(object)`.
 */
export function shown(v: unknown, max = Infinity): string {
  if (typeof v === 'string') return v.length > max ? v.slice(0, max) + '…' : v
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null || v === undefined) return String(v)
  return `(${typeof v})`
}
