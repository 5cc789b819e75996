import { CodedError } from '../schemas/index.js'
/**
 * Stable reasons a target refuses a command (`verifyCommand`) or a reader refuses an ack
 * (`verifyAck`). They label metrics and acks, so the set is fixed; never reuse a code.
 */
export const VerifyReason = {
  BadSignature: 'bad_signature',
  UnknownKey: 'unknown_key',
  RevokedKey: 'revoked_key',
  Expired: 'expired',
  NotYetValid: 'not_yet_valid',
  WrongTarget: 'wrong_target',
  Replayed: 'replayed',
  UnknownVerb: 'unknown_verb',
  BadArgs: 'bad_args',
  /** A proposal (or rejected proposal) is not executable until an operator approves it. */
  NotApproved: 'not_approved',
  TooFewSignatures: 'too_few_signatures',
} as const
export type VerifyReason = (typeof VerifyReason)[keyof typeof VerifyReason]

export interface VerifyError {
  readonly reason: VerifyReason
  /** What was wrong and what to do. */
  readonly message: string
}
export type Verified = { readonly ok: true } | { readonly ok: false; readonly error: VerifyError }

/** A value in a message without calling its toString (which may be missing or throw). */
export const show = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined ? String(v) : `(${typeof v})`

export const refuse = (reason: VerifyReason, message: string): { ok: false; error: VerifyError } => ({ ok: false, error: { reason, message } })

/** Codes for act's own failures (loading keys and trust stores, approving proposals). */
export const ActErrorCode = {
  BadKey: 'bad_key',
  BadTrustStore: 'bad_trust_store',
  NotProposed: 'not_proposed',
  WrongRole: 'wrong_role',
  ProposalExpired: 'proposal_expired',
  BadConfig: 'bad_act_config',
} as const
export type ActErrorCode = (typeof ActErrorCode)[keyof typeof ActErrorCode]

export class ActError extends CodedError<ActErrorCode> {
  override name = 'ActError'
}
export const isActError = (err: unknown): err is ActError => err instanceof ActError

/** The key files and the key registry refused a request: a missing or malformed key, a bad or taken name, an unregistered key id. Same code as a bad configuration elsewhere (`ben` exits 2). */
export class KeyringError extends CodedError<'bad_config'> {
  override name = 'KeyringError'
}
