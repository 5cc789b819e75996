import { isToken, type CommandIntent, type LimitCheck } from '../../schemas/index.js'
import { formatDuration, type CompiledPack, type CompiledRule } from './pack.js'
import { firstMatch } from './pattern.js'
import { sget, sset } from './sharded.js'
import { admit, countInWindow, nextTokenAt, oldestInWindow, own, refill, take, type Bucket, type PolicyState } from './state.js'
import { missingIn, missingInArgs, render, renderArgs } from './template.js'
import type { FactView } from './view.js'

/** Names of the checks recorded in `DecisionPayload.limits`, in the order they are consulted. */
export const LimitName = {
  Arguments: 'arguments',
  Forbidden: 'forbidden',
  Suppression: 'suppression',
  BlastRadius: 'blast-radius',
  RateLimit: 'rate-limit',
} as const

export interface Decided {
  readonly outcome: string
  readonly command: CommandIntent | null
  readonly limits: readonly LimitCheck[]
  readonly suppressed: number
  readonly reason: string
  /** The decision a suppressed repeat was folded into. */
  readonly foldedInto: string | null
  /** The outcome the rule asked for before limits (for the explanation). */
  readonly wanted: string
}

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))
const EPS = 1e-9

/**
 * One rule's decision for one fact, and the state after it. Order (README.md):
 * 1. build the command (verb, target, args) — a missing template field downgrades to alert;
 *    a verb the pack marks `human` turns act into propose;
 * 2. forbidden verbs and targets — downgrade to alert;
 * 3. suppression — a repeat of rule+entity inside an open window is folded (outcome of the
 *    original, `suppressed` = count, no command, no limit consumed);
 * 4. blast radius, then 5. rate limit — either blocking downgrades to alert; tokens and
 *    window slots are consumed only when every check allows.
 */
export function decide(s: PolicyState, pack: CompiledPack, rule: CompiledRule, f: FactView, ts: number, decisionId: string): { state: PolicyState; decided: Decided } {
  const wanted = rule.outcome === 'act' && rule.verb !== null && own(pack.verbs, rule.verb)?.human ? 'propose' : rule.outcome
  let outcome: string = wanted
  const limits: LimitCheck[] = []
  let command: CommandIntent | null = null
  let reason = `rule '${rule.name}' matched: ${outcome}`
  const acting = outcome === 'act' || outcome === 'propose'
  if (acting && rule.verb !== null) {
    const verb = rule.verb
    if (wanted !== rule.outcome) reason = `rule '${rule.name}' matched: act, but the pack says ${verb} needs a human, so propose`
    const target = render(rule.target, f)
    const args = renderArgs(rule.args, f)
    if (target === undefined || args === undefined) {
      const missing = target === undefined ? missingIn(rule.target, f) : missingInArgs(rule.args, f)
      limits.push({ name: LimitName.Arguments, allowed: false, detail: `${missing} is not in the fact, so the ${verb} command cannot be built` })
      outcome = 'alert'
    } else if (!isToken(target)) {
      limits.push({ name: LimitName.Arguments, allowed: false, detail: `target '${target}' is not a valid subject token (no '.', '*', '>', spaces)` })
      outcome = 'alert'
    } else {
      command = { verb, target, args }
      const fv = firstMatch(pack.forbidVerbs, verb)
      const ft = fv ? undefined : firstMatch(pack.forbidTargets, target)
      if (fv || ft) {
        const detail = fv ? `verb ${verb} is forbidden by pattern '${fv.pattern}'` : `target ${target} is forbidden by pattern '${ft!.pattern}'`
        limits.push({ name: LimitName.Forbidden, allowed: false, detail })
        outcome = 'alert'
      } else {
        limits.push({ name: LimitName.Forbidden, allowed: true, detail: `neither verb ${verb} nor target ${target} is forbidden` })
      }
    }
    if (outcome === 'alert') reason = `rule '${rule.name}' wanted to ${wanted} ${verb} but ${limits[limits.length - 1].detail}; downgraded to alert`
  }

  const entity = command ? command.target : f.source
  const key = `${rule.name} ${entity}`
  const open = sget(s.open, key)
  if (rule.suppressMs > 0 && open !== undefined && ts >= open.ts && ts < open.until) {
    const count = open.count + 1
    const detail = `repeat ${count} of decision ${open.id} (rule '${rule.name}', ${entity}) inside its ${formatDuration(rule.suppressMs)} window until ${iso(open.until)}`
    limits.push({ name: LimitName.Suppression, allowed: false, detail })
    return {
      state: { ...s, open: sset(s.open, key, { ...open, count }) },
      decided: { outcome: open.outcome, command: null, limits, suppressed: count, reason: `suppressed: ${detail}`, foldedInto: open.id, wanted },
    }
  }

  let windows = s.windows
  let buckets = s.buckets
  if (command !== null && (outcome === 'act' || outcome === 'propose')) {
    const { verb, target } = command
    let blocked = false
    for (const l of pack.blastRadius) {
      if (!firstMatch(l.verbs, verb)) continue
      const times = own(s.windows, l.name)
      const n = countInWindow(times, ts, l.windowMs)
      const name = `${LimitName.BlastRadius}:${l.name}`
      if (n >= l.max) {
        const frees = (oldestInWindow(times, ts, l.windowMs) ?? ts) + l.windowMs
        limits.push({
          name,
          allowed: false,
          detail: `${n} of at most ${l.max} commands (${l.verbs.map((m) => m.pattern).join(', ')}) already in the last ${formatDuration(l.windowMs)} across all targets; a slot frees at ${iso(frees)}`,
        })
        blocked = true
        break
      }
      limits.push({
        name,
        allowed: true,
        detail: `${n} of at most ${l.max} commands (${l.verbs.map((m) => m.pattern).join(', ')}) in the last ${formatDuration(l.windowMs)} across all targets`,
      })
    }
    let bucket: Bucket | undefined
    const bkey = `${rule.name} ${verb} ${target}`
    if (!blocked && rule.rate !== null) {
      const { capacity, intervalMs, text } = rule.rate
      const b = refill(sget(s.buckets, bkey), capacity, intervalMs, ts)
      if (b.tokens >= 1 - EPS) {
        bucket = take(b, capacity, intervalMs)
        limits.push({ name: LimitName.RateLimit, allowed: true, detail: `${text} for ${verb} on ${target}: token taken, ${Math.max(0, Math.floor(bucket.tokens + EPS))} left` })
      } else {
        limits.push({
          name: LimitName.RateLimit,
          allowed: false,
          detail: `${text} for ${verb} on ${target} is used up; the next token comes at ${iso(nextTokenAt(b, intervalMs))}`,
        })
        blocked = true
      }
    }
    if (blocked) {
      outcome = 'alert'
      reason = `rule '${rule.name}' wanted to ${wanted} ${verb} on ${target} but ${limits[limits.length - 1].detail}; downgraded to alert`
    } else {
      const w: Record<string, readonly number[]> = { ...windows }
      for (const l of pack.blastRadius) if (firstMatch(l.verbs, verb)) w[l.name] = admit(own(w, l.name), ts)
      windows = w
      if (bucket) buckets = sset(buckets, bkey, bucket)
      reason = `${reason}: ${verb} on ${target}`
    }
  }

  let openMap = s.open
  if (rule.suppressMs > 0 && (open === undefined || ts >= open.until)) {
    openMap = sset(s.open, key, { id: decisionId, outcome, ts, until: ts + rule.suppressMs, count: 0 })
  }
  return {
    state: { ...s, windows, buckets, open: openMap },
    decided: { outcome, command, limits, suppressed: 0, reason, foldedInto: null, wanted },
  }
}
