/** Stable reason codes for refused input. They label metrics, so the set is fixed. */
export const RejectReason = {
  NotJson: 'not_json',
  Invalid: 'invalid',
  BadSubject: 'bad_subject',
  UnknownSchema: 'unknown_schema',
  MissingHeader: 'missing_header',
  MalformedAvro: 'malformed_avro',
  KindMismatch: 'kind_mismatch',
  StageError: 'stage_error',
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

export class SchemaError extends Error {
  override name = 'SchemaError'
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
export const isSchemaError = (err: unknown): err is SchemaError => err instanceof SchemaError
