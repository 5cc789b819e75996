import { derivedId, hashId, type CommandFact, type CommandIntent, type CommandPayload, type Result, type Signature } from '../schemas/index.js'
import { ActError, ActErrorCode } from './errors.js'
import { signBytes, type KeyPair } from './keys.js'
import { commandBytes, rejectionBytes } from './signing.js'
import type { SignerRole } from './verbs.js'

export const ACT_STAGE = 'act'
export const ACT_VERSION = '1'
export const ACT_PRODUCER = `${ACT_STAGE}@${ACT_VERSION}`

export const CommandStatus = { Issued: 'issued', Proposed: 'proposed', Approved: 'approved', Rejected: 'rejected' } as const
export type CommandStatus = (typeof CommandStatus)[keyof typeof CommandStatus]

/**
 * A command's id depends on its decision only (not on the act stage's version or config
 * revision): one decision can never become two executable commands, even when keys rotate
 * between a crash and the re-derivation.
 */
export const commandIdOf = (decisionId: string): string => derivedId(ACT_STAGE, 'command', 0, [decisionId])
/** Deterministic nonce: a hash of the decision id (Ed25519 signatures are deterministic too). */
export const nonceOf = (decisionId: string): string => hashId('ben.nonce', decisionId)

export interface SignOptions {
  readonly issuedAt: number
  readonly ttlMs: number
  readonly decisionId: string
  /** Defaults to nonceOf(decisionId). */
  readonly nonce?: string
  /** Signer roles needed to execute; `issuer` is always included. With `operator`, the command is a proposal. */
  readonly required?: readonly SignerRole[]
}

/** Normalises required roles: issuer first, operator second, no duplicates. */
export function normaliseRequired(roles: readonly string[] = []): SignerRole[] {
  return roles.includes('operator') ? ['issuer', 'operator'] : ['issuer']
}

/**
 * Signs a command intent with the issuer key. Status is `issued`, or `proposed` when an
 * operator signature is required. The signature covers every field but `status`,
 * `signatures` and `reason` (see signing.ts).
 */
export function signCommand(intent: CommandIntent, key: KeyPair, o: SignOptions): CommandPayload {
  const required = normaliseRequired(o.required)
  const fields = {
    commandId: commandIdOf(o.decisionId),
    target: intent.target,
    verb: intent.verb,
    args: intent.args,
    issuedAt: o.issuedAt,
    expiresAt: o.issuedAt + o.ttlMs,
    nonce: o.nonce ?? nonceOf(o.decisionId),
    keyId: key.keyId,
    decisionId: o.decisionId,
    required,
  }
  const sig: Signature = { keyId: key.keyId, role: key.role, sig: signBytes(commandBytes(fields), key) }
  return { status: required.includes('operator') ? CommandStatus.Proposed : CommandStatus.Issued, ...fields, signatures: [sig], reason: null }
}

/** Adds `key`'s signature over the same canonical bytes (an operator co-signing). Idempotent per key. */
export function cosign(cmd: CommandPayload, key: KeyPair): CommandPayload {
  if (cmd.signatures.some((s) => s.keyId === key.keyId)) return cmd
  const sig: Signature = { keyId: key.keyId, role: key.role, sig: signBytes(commandBytes(cmd), key) }
  return { ...cmd, signatures: [...cmd.signatures, sig] }
}

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))

function checkProposal(proposal: CommandFact, key: KeyPair, ts: number, what: string): ActError | null {
  const p = proposal.payload
  if (p.status !== CommandStatus.Proposed)
    return new ActError(ActErrorCode.NotProposed, `cannot ${what} command ${p.commandId}: its status is '${p.status}', only a 'proposed' command waits for an operator`)
  if (key.role !== 'operator') return new ActError(ActErrorCode.WrongRole, `cannot ${what} with key ${key.keyId}: it is a ${key.role} key; use an operator key`)
  if (what === 'approve' && ts >= p.expiresAt) {
    return new ActError(
      ActErrorCode.ProposalExpired,
      `cannot approve command ${p.commandId}: it expired at ${iso(p.expiresAt)}; the decision must be made again (or give the verb a longer ttl in the pack)`,
    )
  }
  return null
}

/**
 * An operator approves a proposal: a new command fact with status `approved` carrying the
 * issuer's and the operator's signatures over the same bytes. It releases the command (the
 * runner publishes it on `ben.cmd.<target>`). The fact id depends on the proposal and the key.
 */
export function approve(proposal: CommandFact, operatorKey: KeyPair, ts: number, attempt = 0): Result<CommandFact, ActError> {
  const err = checkProposal(proposal, operatorKey, ts, 'approve')
  if (err) return { ok: false, error: err }
  const p = cosign(proposal.payload, operatorKey)
  return {
    ok: true,
    value: {
      ...proposal,
      // A later attempt (after a target refused an approval) is a new fact, not a duplicate.
      id:
        attempt > 0
          ? derivedId(ACT_STAGE, ACT_VERSION, 'approve', [proposal.id], `${operatorKey.keyId}#${attempt}`)
          : derivedId(ACT_STAGE, ACT_VERSION, 'approve', [proposal.id], operatorKey.keyId),
      ts,
      payload: { ...p, status: CommandStatus.Approved, reason: null },
      lineage: [proposal.id],
      explain: `Operator key ${operatorKey.keyId} approved ${p.verb} on ${p.target} (command ${p.commandId}) at ${iso(ts)}; with ${p.signatures.length} signatures it may execute until ${iso(p.expiresAt)}.`,
    },
  }
}

/**
 * An operator rejects a proposal: a command fact with status `rejected` and the reason. The
 * operator's signature is over the rejection (a different signed type), so it can never be
 * mistaken for an approval.
 */
export function reject(proposal: CommandFact, operatorKey: KeyPair, ts: number, reason: string): Result<CommandFact, ActError> {
  const err = checkProposal(proposal, operatorKey, ts, 'reject')
  if (err) return { ok: false, error: err }
  const p = proposal.payload
  const sig: Signature = { keyId: operatorKey.keyId, role: operatorKey.role, sig: signBytes(rejectionBytes(p.commandId, reason), operatorKey) }
  return {
    ok: true,
    value: {
      ...proposal,
      id: derivedId(ACT_STAGE, ACT_VERSION, 'reject', [proposal.id], operatorKey.keyId),
      ts,
      payload: { ...p, status: CommandStatus.Rejected, signatures: [...p.signatures, sig], reason },
      lineage: [proposal.id],
      explain: `Operator key ${operatorKey.keyId} rejected ${p.verb} on ${p.target} (command ${p.commandId}) at ${iso(ts)}: ${reason}. It will not execute.`,
    },
  }
}
