import { CodedError, problemsMessage } from '../../schemas/index.js'
/** Stable codes for policy-pack failures. Never reused; callers test with `isPolicyError`. */
export const PolicyErrorCode = {
  /** The text is not YAML/JSON. */
  Syntax: 'pack_syntax',
  /** The pack parsed but a field or rule is wrong (see `issues`). */
  Invalid: 'pack_invalid',
  /** The built-in default pack could not be read from disk. */
  Missing: 'pack_missing',
} as const
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode]

export class PolicyError extends CodedError<PolicyErrorCode> {
  override name = 'PolicyError'
  /** One line per problem, each naming the field or rule and saying what to do. */
  readonly issues: readonly string[]
  constructor(code: PolicyErrorCode, issues: readonly string[], options?: { cause?: unknown }) {
    super(code, problemsMessage('the policy pack', issues), options)
    this.issues = Object.freeze([...issues])
  }
}

export const isPolicyError = (err: unknown): err is PolicyError => err instanceof PolicyError
