import type { OperatorFunction } from 'rxjs'
import { derivedId, isToken, RejectReason, type CommandFact, type CommandPayload, type DecisionFact, type Fact, type Result } from '../../schemas/index.js'
import { runStage, type Emission, type Stage, type StepResult, type Versioned } from '../stage.js'
import { sget, shardOf, sset, type Sharded } from '../policy/index.js'
import { ACT_PRODUCER, ACT_STAGE, ACT_VERSION, CommandStatus, commandIdOf, nonceOf, normaliseRequired, signCommand } from '../../keys/index.js'
import { ActError, ActErrorCode, show, VerifyReason } from '../../keys/index.js'
import type { KeyPair } from '../../keys/index.js'
import { defaultVerbs, parseArgs, type VerbRegistry } from '../../keys/index.js'

/** Per-verb settings; the policy pack's `verbs` section (CompiledPack.verbs) has this shape. */
export interface VerbSettings {
  /** Always a proposal: an operator must co-sign. */
  readonly human?: boolean
  readonly ttlMs?: number | null
  /** Required signer roles (`issuer`/`policy`, `operator`). */
  readonly signatures?: readonly string[]
}

export interface ActConfig {
  /** Signs every command; must be an `issuer` key. */
  readonly issuer: KeyPair
  readonly verbs: VerbRegistry
  readonly settings: Readonly<Record<string, VerbSettings>>
  /** Command lifetime when the verb has no ttl of its own. */
  readonly defaultTtlMs: number
  /**
   * Set when ben-keys says the issuer key is revoked (from this time, ms): act signs nothing
   * with it and holds every decision as a `rejected` command with reason `revoked_key`, until
   * a rotated key replaces it (`ben keys rotate --name issuer`).
   */
  readonly issuerRevokedAt?: number | null
}

export const DEFAULT_TTL_MS = 300_000

/** Builds and freezes an act config. Typical: `actConfig({ issuer, settings: pack.verbs, defaultTtlMs: pack.defaultTtlMs })`. */
export function actConfig(o: {
  issuer: KeyPair
  verbs?: VerbRegistry
  settings?: Readonly<Record<string, VerbSettings>>
  defaultTtlMs?: number | null
  issuerRevokedAt?: number | null
}): Result<ActConfig, ActError> {
  if (o.issuer.role !== 'issuer')
    return { ok: false, error: new ActError(ActErrorCode.WrongRole, `the act stage signs with an issuer key; key ${o.issuer.keyId} is a ${o.issuer.role} key`) }
  const ttl = o.defaultTtlMs ?? DEFAULT_TTL_MS
  if (!(Number.isSafeInteger(ttl) && ttl > 0)) return { ok: false, error: new ActError(ActErrorCode.BadConfig, `defaultTtlMs must be a positive integer number of ms, got ${ttl}`) }
  return {
    ok: true,
    value: Object.freeze({
      issuer: o.issuer,
      verbs: o.verbs ?? defaultVerbs(),
      settings: Object.freeze({ ...(o.settings ?? {}) }),
      defaultTtlMs: ttl,
      issuerRevokedAt: o.issuerRevokedAt ?? null,
    }),
  }
}

/** Counters, and the decisions already turned into commands. */
export interface ActState {
  readonly issued: number
  readonly proposed: number
  readonly rejected: number
  /** Decisions that asked for no command (ignore, alert) or were folded repeats. */
  readonly skipped: number
  /**
   * Ids of the decisions turned into commands, with their event time (sharded, copy-on-write):
   * the same decision again (stored a second time after JetStream's duplicate window) makes no
   * second command, which a target would refuse as a replay. At most ACT_SEEN_MAX (the oldest
   * sixteenth by event time is forgotten past it).
   */
  readonly seen: Sharded<number>
  readonly seenCount: number
  /** Decisions skipped because their id was already turned into a command. */
  readonly duplicates: number
}
export const initialActState = (): ActState => ({ issued: 0, proposed: 0, rejected: 0, skipped: 0, seen: {}, seenCount: 0, duplicates: 0 })

/** Decision ids remembered for de-duplication at most. */
export const ACT_SEEN_MAX = 20_000

function remember(s: ActState, id: string, ts: number): ActState {
  let seen = sset(s.seen, id, ts)
  let seenCount = s.seenCount + 1
  if (seenCount > ACT_SEEN_MAX) {
    const all: Array<[string, number]> = []
    for (const shard of Object.values(seen)) for (const [k, t] of Object.entries(shard)) all.push([k, t])
    all.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const drop = new Set(all.slice(0, Math.ceil(all.length / 16)).map((e) => e[0]))
    const out: Record<string, Record<string, number>> = {}
    for (const [sh, shard] of Object.entries(seen)) for (const [k, t] of Object.entries(shard)) if (!drop.has(k)) (out[sh] ??= {})[k] = t
    seen = out
    seenCount = all.length - drop.size
  }
  return { ...s, seen, seenCount }
}

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))
const invalid = (state: ActState, message: string): StepResult<ActState> => ({ state, out: [], rejected: { reason: RejectReason.Invalid, message } })

function configOf(d: DecisionFact, c: Versioned<ActConfig>): Record<string, number> {
  const out: Record<string, number> = {}
  const dc = d.config
  if (dc !== null && typeof dc === 'object') for (const k in dc) if (Number.isSafeInteger(dc[k])) out[k] = dc[k]
  out[c.bucket] = c.revision
  return out
}

type Base = Omit<CommandFact, 'id' | 'payload' | 'explain'>

/** A command that cannot be built: a `rejected` command fact, unsigned, with the reason. */
function rejectedCommand(state: ActState, d: DecisionFact, config: Versioned<ActConfig>, base: Base, reason: string, why: string): StepResult<ActState> {
  const c = d.payload.command!
  const payload: CommandPayload = {
    status: CommandStatus.Rejected,
    commandId: commandIdOf(d.id),
    target: c.target,
    verb: c.verb,
    args: c.args,
    issuedAt: d.ts,
    expiresAt: d.ts,
    nonce: nonceOf(d.id),
    keyId: config.value.issuer.keyId,
    decisionId: d.id,
    signatures: [],
    reason: `${reason}: ${why}`,
    required: [],
  }
  const explain = `Decision ${d.id} (rule '${show(d.payload.rule)}') asked to ${d.payload.outcome} ${c.verb} on ${c.target}, but the command cannot be built: ${why}. Nothing was signed or sent.`
  const fact: CommandFact = { ...base, id: derivedId(ACT_STAGE, ACT_VERSION, config.revision, [d.id], CommandStatus.Rejected), payload, explain }
  return { state: { ...state, rejected: state.rejected + 1 }, out: [fact] }
}

function step(state: ActState, d: DecisionFact, config: Versioned<ActConfig>): StepResult<ActState> {
  const id = (d as { id?: unknown } | null)?.id
  if (typeof id === 'string' && sget(state.seen, id) !== undefined) return { state: { ...state, duplicates: state.duplicates + 1 }, out: [] }
  const r = build(state, d, config)
  return r.out.length > 0 ? { ...r, state: remember(r.state, d.id, d.ts) } : r
}

function build(state: ActState, d: DecisionFact, config: Versioned<ActConfig>): StepResult<ActState> {
  const p = d?.payload
  if (p === null || typeof p !== 'object') return invalid(state, `decision ${show((d as { id?: unknown } | null)?.id)} has no payload`)
  if (p.outcome !== 'act' && p.outcome !== 'propose') return { state: { ...state, skipped: state.skipped + 1 }, out: [] }
  if (typeof p.suppressed === 'number' && p.suppressed > 0) return { state: { ...state, skipped: state.skipped + 1 }, out: [] }
  if (typeof d.id !== 'string' || !Number.isSafeInteger(d.ts) || typeof d.source !== 'string')
    return invalid(state, `decision ${show(d.id)}: id, ts or source is missing or malformed`)
  const c = p.command
  if (c === null || typeof c !== 'object' || typeof c.verb !== 'string' || typeof c.target !== 'string' || typeof c.args !== 'string') {
    return invalid(state, `decision ${d.id} has outcome ${p.outcome} but no well-formed command (verb, target, args); the policy pack must name a verb`)
  }
  const cfg = config.value
  const base: Base = {
    ts: d.ts,
    source: d.source,
    lane: 'control',
    kind: 'command' as const,
    lineage: [d.id],
    producer: ACT_PRODUCER,
    config: configOf(d, config),
  }
  const args = parseArgs(cfg.verbs, c.verb, c.args)
  if (!args.ok) return rejectedCommand(state, d, config, base, args.error.reason, args.error.message)
  if (!isToken(c.target)) return rejectedCommand(state, d, config, base, VerifyReason.WrongTarget, `target '${c.target}' is not a subject token (no '.', '*', '>', spaces)`)

  if (cfg.issuerRevokedAt !== null && cfg.issuerRevokedAt !== undefined) {
    return rejectedCommand(
      state,
      d,
      config,
      base,
      VerifyReason.RevokedKey,
      `issuer key ${cfg.issuer.keyId} is revoked in ben-keys (from ${iso(cfg.issuerRevokedAt)}), so act signs nothing with it; rotate it (ben keys rotate --name issuer) and re-run the decision`,
    )
  }
  const settings = Object.hasOwn(cfg.settings, c.verb) ? cfg.settings[c.verb] : undefined
  const human = p.outcome === 'propose' || settings?.human === true
  const required = normaliseRequired([...args.spec.signatures, ...(settings?.signatures ?? []), ...(human ? ['operator'] : [])])
  const ttlMs = settings?.ttlMs ?? cfg.defaultTtlMs
  const payload = signCommand(c, cfg.issuer, { issuedAt: d.ts, ttlMs, decisionId: d.id, required })
  const proposed = payload.status === CommandStatus.Proposed
  const why = proposed ? (p.outcome === 'propose' ? 'the policy proposed it for a human' : `${c.verb} needs ${required.join(' and ')} signatures`) : 'the policy decided to act'
  const explain = proposed
    ? `Decision ${d.id} (rule '${show(p.rule)}') leads to a proposal: ${c.verb} on ${c.target} with ${c.args}, signed by issuer key ${cfg.issuer.keyId}. It waits for an operator to approve it because ${why}, and lapses at ${iso(payload.expiresAt)}.`
    : `Decision ${d.id} (rule '${show(p.rule)}') issued ${c.verb} on ${c.target} with ${c.args} because ${why}; signed by issuer key ${cfg.issuer.keyId}, valid from ${iso(payload.issuedAt)} until ${iso(payload.expiresAt)}.`
  const fact: CommandFact = { ...base, id: derivedId(ACT_STAGE, ACT_VERSION, config.revision, [d.id], payload.status), payload, explain }
  return { state: proposed ? { ...state, proposed: state.proposed + 1 } : { ...state, issued: state.issued + 1 }, out: [fact] }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/**
 * The act stage: decision facts in, command facts out (the runner publishes them on
 * `ben.cmd.<target>`). `act` → `issued`, `propose` (or a verb needing an operator) →
 * `proposed`; ignore, alert and suppressed repeats → nothing. A command that cannot be built
 * (unknown verb, bad arguments, bad target) becomes a `rejected` command fact with the reason.
 */
export const actStage: Stage<ActState, ActConfig, DecisionFact> = {
  name: ACT_STAGE,
  version: ACT_VERSION,
  initialState: initialActState,
  accepts: (fact: Fact): fact is DecisionFact => fact.kind === 'decision',
  step,
  serialize: (s) => s,
  deserialize: (raw) => {
    const r = (raw ?? {}) as Record<string, unknown>
    const seen: Record<string, Record<string, number>> = {}
    let seenCount = 0
    if (r.seen !== null && typeof r.seen === 'object')
      for (const shard of Object.values(r.seen as Record<string, unknown>))
        if (shard !== null && typeof shard === 'object')
          for (const [id, t] of Object.entries(shard as Record<string, unknown>))
            if (id !== '__proto__' && typeof t === 'number' && Number.isFinite(t)) {
              ;(seen[shardOf(id)] ??= {})[id] = t
              seenCount++
            }
    return { issued: num(r.issued), proposed: num(r.proposed), rejected: num(r.rejected), skipped: num(r.skipped), seen, seenCount, duplicates: num(r.duplicates) }
  },
}

export function act(config: () => Versioned<ActConfig>, initial?: ActState): OperatorFunction<DecisionFact, Emission<DecisionFact>> {
  return runStage(actStage, config, initial)
}
