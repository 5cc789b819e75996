import { RejectReason, type Rejection } from '../../schemas/index.js'

/** Stable codes for everything that can go wrong in the scrub stage. Never reused. */
export const ScrubErrorCode = {
  /** The manifest text is not parseable YAML/JSON. */
  ManifestSyntax: 'manifest_syntax',
  /** The manifest does not match the schema (a field is missing, mistyped or unknown). */
  ManifestInvalid: 'manifest_invalid',
  /** A rule is well-formed but cannot be compiled (bad pattern, duplicate path, unsafe placeholder). */
  ManifestRule: 'manifest_rule',
  /** A hash rule or hashing detector is configured but no key is available. */
  HashKeyMissing: 'hash_key_missing',
  /** The shipped default manifest cannot be found or read. */
  DefaultMissing: 'default_manifest_missing',
} as const
export type ScrubErrorCode = (typeof ScrubErrorCode)[keyof typeof ScrubErrorCode]

/**
 * Why scrub refused a fact. The Rejection reason is `invalid` (the schemas' fixed set has no
 * finer code); the message always starts with one of these stable sub-codes, e.g.
 * `scrub_too_large: …`, so the DLQ can be grouped without parsing prose.
 */
export const ScrubRejectCode = {
  TooLarge: 'scrub_too_large',
  TooManyFields: 'scrub_too_many_fields',
  Malformed: 'scrub_malformed',
  Unstable: 'scrub_unstable',
} as const
export type ScrubRejectCode = (typeof ScrubRejectCode)[keyof typeof ScrubRejectCode]

export function scrubRejection(code: ScrubRejectCode, message: string): Rejection {
  return { reason: RejectReason.Invalid, message: `${code}: ${message}` }
}

/**
 * A manifest could not be loaded. It is also a `Rejection` (reason `invalid`), so
 * `Result<CompiledManifest>` callers can treat it like any other refused input.
 */
export class ManifestError extends Error {
  override name = 'ManifestError'
  readonly code: ScrubErrorCode
  readonly reason = RejectReason.Invalid
  /** One line per problem, each naming the rule or field, e.g. `fields[2] (attrs.user → hash): …`. */
  readonly issues: readonly string[]
  constructor(code: ScrubErrorCode, issues: readonly string[], options?: { cause?: unknown }) {
    super(`redaction manifest rejected: ${issues.join('; ')}`, options)
    this.code = code
    this.issues = Object.freeze([...issues])
  }
}

export const isManifestError = (err: unknown): err is ManifestError => err instanceof ManifestError
