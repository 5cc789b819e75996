import type { CommandPayload } from '../schemas/index.js'
import { CommandStatus } from './command.js'
import { refuse, show, VerifyReason, type Verified } from './errors.js'
import { verifyBytes } from './keys.js'
import type { ReplayGuard } from './replay-guard.js'
import { commandBytes } from './signing.js'
import { lookupKey, type TrustStore } from './trust.js'
import { defaultVerbs, parseArgs, SIGNER_ROLES, type SignerRole, type VerbRegistry } from './verbs.js'

export interface VerifyContext {
  /** The verifier's own id: a command for another target is refused. */
  readonly target: string
  /** The verifier's clock (epoch ms). */
  readonly now: number
  /** Accepted commands; a successful verify records the command in it. */
  readonly seen: ReplayGuard
  /** Verbs this target executes (default: set_mode, throttle_job, quarantine_artifact). */
  readonly verbs?: VerbRegistry
  /** Extra signer roles this target requires per verb, on top of the verb's and the command's own. */
  readonly require?: Readonly<Record<string, readonly SignerRole[]>>
  /** Tolerated clock difference for `issuedAt` in the future (default 5 s). */
  readonly maxSkewMs?: number
}

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))
const ROLE_SET: ReadonlySet<string> = new Set(SIGNER_ROLES)

/**
 * Everything a target checks before executing a command, in this order (the first failure
 * is the reason): status (`not_approved`), issuer signature present (`too_few_signatures`),
 * every signature's key registered (`unknown_key`), not revoked (`revoked_key`) and valid
 * (`bad_signature`), verb (`unknown_verb`), arguments (`bad_args`), target (`wrong_target`),
 * time (`not_yet_valid`, `expired`), required signer roles (`too_few_signatures`), replay
 * (`replayed`). On success the command is remembered in `ctx.seen`. Never throws.
 */
export function verifyCommand(cmd: CommandPayload, trust: TrustStore, ctx: VerifyContext): Verified {
  try {
    return check(cmd, trust, ctx)
  } catch (err) {
    return refuse(VerifyReason.BadSignature, `malformed command: ${(err as Error).message}`)
  }
}

function check(cmd: CommandPayload, trust: TrustStore, ctx: VerifyContext): Verified {
  if (cmd.status !== CommandStatus.Issued && cmd.status !== CommandStatus.Approved) {
    const why =
      cmd.status === CommandStatus.Proposed
        ? 'it is a proposal waiting for an operator to approve it'
        : cmd.status === CommandStatus.Rejected
          ? `an operator rejected it (${cmd.reason ?? 'no reason given'})`
          : `its status is '${show(cmd.status)}'`
    return refuse(VerifyReason.NotApproved, `command ${cmd.commandId} is not executable: ${why}`)
  }
  const sigs = Array.isArray(cmd.signatures) ? cmd.signatures : []
  if (!sigs.some((s) => s.keyId === cmd.keyId)) return refuse(VerifyReason.TooFewSignatures, `command ${cmd.commandId} carries no signature from its issuer key ${cmd.keyId}`)

  const bytes = commandBytes(cmd)
  const have = new Map<string, Set<string>>()
  for (const s of sigs) {
    const k = lookupKey(trust, s.keyId, ctx.now)
    if (!k.ok) return k
    if (s.keyId === cmd.keyId && k.value.role !== 'issuer')
      return refuse(VerifyReason.UnknownKey, `key ${s.keyId} signs as the issuer but is registered as ${k.value.role}; only issuer keys issue commands`)
    if (!verifyBytes(s.sig, bytes, k.value.publicKey))
      return refuse(VerifyReason.BadSignature, `signature by ${s.keyId} (${k.value.role}) does not match command ${cmd.commandId}: the command was altered or the signature forged`)
    const role = k.value.role
    if (!have.has(role)) have.set(role, new Set())
    have.get(role)!.add(s.keyId)
  }

  const parsed = parseArgs(ctx.verbs ?? defaultVerbs(), cmd.verb, cmd.args)
  if (!parsed.ok) return parsed
  const spec = parsed.spec

  if (cmd.target !== ctx.target) return refuse(VerifyReason.WrongTarget, `command ${cmd.commandId} is for ${cmd.target}, not for ${ctx.target}`)
  const skew = ctx.maxSkewMs ?? 5000
  if (ctx.now < cmd.issuedAt - skew)
    return refuse(VerifyReason.NotYetValid, `command ${cmd.commandId} is issued at ${iso(cmd.issuedAt)}, after now (${iso(ctx.now)}) by more than ${skew} ms; check the clocks`)
  if (ctx.now >= cmd.expiresAt) return refuse(VerifyReason.Expired, `command ${cmd.commandId} expired at ${iso(cmd.expiresAt)} (now ${iso(ctx.now)})`)

  const required = new Set<string>(['issuer'])
  for (const r of Array.isArray(cmd.required) ? cmd.required : []) required.add(r)
  for (const r of spec.signatures) required.add(r)
  for (const r of ctx.require?.[cmd.verb] ?? []) required.add(r)
  for (const r of required) {
    if (!ROLE_SET.has(r)) return refuse(VerifyReason.TooFewSignatures, `command ${cmd.commandId} requires a '${r}' signature, a role this target does not know`)
    if (!have.get(r)?.size)
      return refuse(
        VerifyReason.TooFewSignatures,
        `${cmd.verb} needs signatures from ${[...required].join(' and ')}; the ${r} signature is missing${r === 'operator' ? ' (an operator must approve it)' : ''}`,
      )
  }

  if (ctx.seen.seen(cmd.commandId, cmd.nonce, cmd.expiresAt)) {
    return refuse(
      VerifyReason.Replayed,
      cmd.expiresAt <= ctx.seen.floor
        ? `command ${cmd.commandId} is older than what the replay guard still remembers; refused to be safe`
        : `command ${cmd.commandId} (nonce ${cmd.nonce}) was already accepted`,
    )
  }
  ctx.seen.remember(cmd.commandId, cmd.nonce, cmd.expiresAt, ctx.now)
  return { ok: true }
}
