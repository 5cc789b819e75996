import { canonicalJson } from '../schemas/index.js'
import type { AckPayload, CommandPayload } from '../schemas/index.js'

/**
 * The exact bytes that are signed. Each kind of signature has its own `type` tag (domain
 * separation), so a signature made for one purpose can never be replayed as another: an
 * operator's rejection cannot be pasted onto a proposal as an approval, an ack cannot pass
 * for a command.
 */
export const SignedType = {
  Command: 'ben.command/1',
  Rejection: 'ben.command.rejection/1',
  Ack: 'ben.ack/1',
} as const

const enc = new TextEncoder()

export type CommandFields = Pick<CommandPayload, 'commandId' | 'target' | 'verb' | 'args' | 'issuedAt' | 'expiresAt' | 'nonce' | 'keyId' | 'decisionId' | 'required'>

/** Canonical JSON of id, target, verb, args, issued-at, expires-at, nonce, issuer key id, decision id and required roles. */
export function commandBytes(c: CommandFields): Uint8Array {
  return enc.encode(
    canonicalJson({
      type: SignedType.Command,
      id: c.commandId,
      target: c.target,
      verb: c.verb,
      args: c.args,
      issuedAt: c.issuedAt,
      expiresAt: c.expiresAt,
      nonce: c.nonce,
      issuer: c.keyId,
      decisionId: c.decisionId,
      required: c.required ?? [],
    }),
  )
}

export function rejectionBytes(commandId: string, reason: string): Uint8Array {
  return enc.encode(canonicalJson({ type: SignedType.Rejection, id: commandId, reason }))
}

export function ackBytes(a: Omit<AckPayload, 'sig'>): Uint8Array {
  return enc.encode(canonicalJson({ type: SignedType.Ack, commandId: a.commandId, target: a.target, verb: a.verb, status: a.status, reason: a.reason, keyId: a.keyId }))
}
