import { hashId, type AckFact, type AckPayload, type CommandFact } from '../schemas/index.js'
import { refuse, VerifyReason, type Verified } from './errors.js'
import { signBytes, verifyBytes, type KeyPair } from './keys.js'
import { ackBytes } from './signing.js'
import { lookupKey, type TrustStore } from './trust.js'

export const AckStatus = { Executed: 'executed', Refused: 'refused', Failed: 'failed' } as const
export type AckStatus = (typeof AckStatus)[keyof typeof AckStatus]

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))

/**
 * The target's signed answer to a command (DESIGN: `ben.ack.<target>`): executed, refused
 * (with the verify reason) or failed. Signed over commandId, target, verb, status, reason and
 * key id. An `executed` ack's id is a hash of the command id, status and key, so a re-sent ack
 * de-duplicates. A refusal or failure answers one attempt: its id also covers the command
 * fact's id, nonce, issuer key, signatures and the reason, so a second forged or revoked-key
 * attempt at the same command id leaves its own trace in COMMANDS instead of collapsing into
 * the first (the same message delivered again still gives the same ack).
 */
export function signAck(cmd: CommandFact, status: AckStatus, reason: string | null, targetKey: KeyPair, ts: number): AckFact {
  const c = cmd.payload
  const unsigned = { commandId: c.commandId, target: c.target, verb: c.verb, status, reason, keyId: targetKey.keyId }
  const payload: AckPayload = { ...unsigned, sig: signBytes(ackBytes(unsigned), targetKey) }
  const what =
    status === AckStatus.Executed
      ? `executed ${c.verb}`
      : status === AckStatus.Refused
        ? `refused ${c.verb}: ${reason ?? 'no reason given'}`
        : `failed to execute ${c.verb}: ${reason ?? 'no reason given'}`
  return {
    id: status === AckStatus.Executed ? hashId('ack', c.commandId, status, targetKey.keyId) : hashId('ack', c.commandId, status, targetKey.keyId, attemptOf(cmd), reason ?? ''),
    ts,
    source: c.target,
    lane: 'control',
    kind: 'ack',
    payload,
    lineage: [cmd.id],
    producer: c.target,
    config: {},
    explain: `${c.target} ${what} (command ${c.commandId}) at ${iso(ts)}, signed with key ${targetKey.keyId}.`,
  }
}

/** What makes one attempt at a command distinct: the fact id, nonce, issuer key and every signature. */
function attemptOf(cmd: CommandFact): string {
  const c = cmd.payload
  const sigs = Array.isArray(c.signatures)
    ? c.signatures.map((s) => `${String(s?.keyId)}:${String(s?.role)}:${s?.sig instanceof Uint8Array ? Buffer.from(s.sig).toString('hex') : '?'}`).join(',')
    : '?'
  return `${String(cmd.id)}|${String(c.nonce)}|${String(c.keyId)}|${sigs}`
}

/**
 * Checks an ack: the key is registered, not revoked at `now`, a sidecar key, bound to the
 * ack's target when the trust store names an owner, and the signature matches. Never throws.
 */
export function verifyAck(ack: AckPayload, trust: TrustStore, now: number): Verified {
  try {
    const k = lookupKey(trust, ack.keyId, now)
    if (!k.ok) return k
    if (k.value.role !== 'sidecar') return refuse(VerifyReason.UnknownKey, `key ${ack.keyId} is registered as ${k.value.role}; acks are signed by sidecar keys`)
    if (k.value.owner !== null && k.value.owner !== ack.target)
      return refuse(VerifyReason.WrongTarget, `key ${ack.keyId} belongs to ${k.value.owner} and cannot answer for ${ack.target}`)
    if (!verifyBytes(ack.sig, ackBytes(ack), k.value.publicKey))
      return refuse(VerifyReason.BadSignature, `ack for command ${ack.commandId} does not match its signature by ${ack.keyId}: altered or forged`)
    return { ok: true }
  } catch (err) {
    return refuse(VerifyReason.BadSignature, `malformed ack: ${(err as Error).message}`)
  }
}
