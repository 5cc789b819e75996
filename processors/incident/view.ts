import {
  RejectReason,
  SEVERITY_ORDER,
  type AckFact,
  type AlertFact,
  type AnomalyFact,
  type CommandFact,
  type DecisionFact,
  type Fact,
  type Rejection,
  type Result,
  shown,
} from '../../schemas/index.js'
import { clip, fmt } from './describe.js'

/** The facts the incident stage correlates. */
export type IncidentInput = AnomalyFact | AlertFact | DecisionFact | CommandFact | AckFact
export const INPUT_KINDS: readonly string[] = Object.freeze(['anomaly', 'alert', 'decision', 'command', 'ack'])

export const isIncidentInput = (fact: Fact): fact is IncidentInput => INPUT_KINDS.includes(fact.kind)

/** What the stage needs from one input, checked once (nothing downstream re-validates). */
export interface InputView {
  readonly fact: IncidentInput
  /** SEVERITY_ORDER rank, or -1 for commands and acks (they carry no severity). */
  readonly rank: number
  /** Where the correlating labels come from; `undefined` for acks, args text for commands (parsed only when needed). */
  readonly labels: unknown
  /** Ids whose incident this fact joins, in priority order (decisionId / commandId first, then lineage). */
  readonly links: readonly string[]
  /** Ids remembered besides the fact's own: lineage, and a command's commandId (acks name it). */
  readonly remember: readonly string[]
  /** Kept in `factIds` ahead of routine facts: unsuppressed decisions, commands, acks. */
  readonly key: boolean
  /** Commands and acks: without a link they may join the source's open incident. */
  readonly control: boolean
  /** For the title: `cpu.load anomaly`, `edr.exec alert`. */
  readonly signal: string | null
  /** For the title: `throttle_job issued`, `throttle_job executed`, `throttle_job blocked by rate-limit`. */
  readonly action: string | null
  /** A short description for explanations, naming the fact id. */
  readonly what: string
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const rankOf = (v: unknown): number => (isStr(v) && Object.hasOwn(SEVERITY_ORDER, v) ? SEVERITY_ORDER[v as keyof typeof SEVERITY_ORDER] : -1)
const NONE: readonly string[] = Object.freeze([])

function bad(id: unknown, what: string): { ok: false; error: Rejection } {
  const name = isStr(id) ? id : '(no id)'
  return {
    ok: false,
    error: { reason: RejectReason.Invalid, message: `incident cannot take fact ${clip(name, 80)}: ${what}; fix the producer (the fact goes to the DLQ, the stage goes on)` },
  }
}

function fields(p: Record<string, unknown>, strings: readonly string[]): string | undefined {
  for (const k of strings) if (!isStr(p[k])) return `payload.${k} must be a string`
  return undefined
}

/** Validates one input and extracts what correlation needs. Never throws. */
export function viewOf(x: unknown): Result<InputView, Rejection> {
  if (!isObj(x)) return bad(undefined, 'it is not an object')
  const { id, ts, source, kind, lineage, payload: p } = x
  if (!isStr(id) || id.length === 0) return bad(id, 'id must be a non-empty string')
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) return bad(id, `ts must be an integer number of epoch ms, got ${clip(shown(ts), 40)}`)
  if (!isStr(source) || source.length === 0) return bad(id, 'source must be a non-empty string')
  if (!isStr(kind) || !INPUT_KINDS.includes(kind)) {
    return {
      ok: false,
      error: { reason: RejectReason.KindMismatch, message: `incident takes anomaly, alert, decision, command and ack facts; fact ${clip(id, 80)} is a ${clip(shown(kind), 40)}` },
    }
  }
  if (!Array.isArray(lineage) || !lineage.every(isStr)) return bad(id, 'lineage must be an array of fact ids')
  if (!isObj(p)) return bad(id, `a ${kind} fact needs a payload object`)
  const fact = x as unknown as IncidentInput
  const lin = lineage as readonly string[]
  switch (kind) {
    case 'anomaly': {
      const e = fields(p, ['metric', 'severity'])
      if (e) return bad(id, e)
      const rank = rankOf(p.severity)
      if (rank < 0) return bad(id, `severity '${clip(shown(p.severity), 40)}' is not low, medium, high or critical`)
      if (!isNum(p.value) || !isNum(p.score)) return bad(id, 'payload.value and payload.score must be finite numbers')
      if (!isObj(p.labels)) return bad(id, 'payload.labels must be a map')
      const signal = `${p.metric} anomaly`
      return ok({
        fact,
        rank,
        labels: p.labels,
        links: lin,
        remember: lin,
        key: false,
        control: false,
        signal,
        action: null,
        what: `anomaly ${id} (${p.metric} was ${fmt(p.value)}, score ${fmt(p.score)}, ${p.severity})`,
      })
    }
    case 'alert': {
      const e = fields(p, ['rule', 'severity', 'message'])
      if (e) return bad(id, e)
      const rank = rankOf(p.severity)
      if (rank < 0) return bad(id, `severity '${clip(shown(p.severity), 40)}' is not low, medium, high or critical`)
      if (!isObj(p.attrs)) return bad(id, 'payload.attrs must be a map')
      return ok({
        fact,
        rank,
        labels: p.attrs,
        links: lin,
        remember: lin,
        key: false,
        control: false,
        signal: `${p.rule} alert`,
        action: null,
        what: `alert ${id} (${p.rule}, ${p.severity}: ${clip(p.message as string, 80)})`,
      })
    }
    case 'decision': {
      const e = fields(p, ['outcome', 'rule', 'severity'])
      if (e) return bad(id, e)
      const rank = rankOf(p.severity)
      if (rank < 0) return bad(id, `severity '${clip(shown(p.severity), 40)}' is not low, medium, high or critical`)
      if (!isObj(p.labels)) return bad(id, 'payload.labels must be a map')
      const suppressed = isNum(p.suppressed) ? p.suppressed : 0
      const c = p.command
      if (c !== null && c !== undefined && (!isObj(c) || !isStr(c.verb) || !isStr(c.target))) return bad(id, 'payload.command must be null or name a verb and a target')
      const cmd = isObj(c) ? (c as { verb: string; target: string }) : null
      const limits = Array.isArray(p.limits) ? p.limits : NONE
      const blocked = limits.find((l): l is { name: string } => isObj(l) && l.allowed === false && isStr(l.name))
      const action = cmd && suppressed === 0 && p.outcome !== 'act' && p.outcome !== 'propose' && blocked ? `${cmd.verb} blocked by ${blocked.name}` : null
      const what = `decision ${id} (rule '${p.rule}' decided ${p.outcome}${cmd ? ` ${cmd.verb} on ${cmd.target}` : ''}${suppressed > 0 ? `, suppressed repeat ${suppressed}` : ''})`
      return ok({ fact, rank, labels: p.labels, links: lin, remember: lin, key: suppressed === 0, control: false, signal: null, action, what })
    }
    case 'command': {
      const e = fields(p, ['status', 'commandId', 'decisionId', 'verb', 'target', 'args'])
      if (e) return bad(id, e)
      const links = [p.decisionId as string, ...lin]
      return ok({
        fact,
        rank: -1,
        labels: p.args,
        links,
        remember: [...lin, p.commandId as string],
        key: true,
        control: true,
        signal: null,
        action: `${p.verb} ${p.status}`,
        what: `command ${p.commandId} (${p.verb} on ${p.target}, ${p.status})`,
      })
    }
    case 'ack': {
      const e = fields(p, ['status', 'commandId', 'verb', 'target'])
      if (e) return bad(id, e)
      return ok({
        fact,
        rank: -1,
        labels: undefined,
        links: [p.commandId as string, ...lin],
        remember: lin,
        key: true,
        control: true,
        signal: null,
        action: `${p.verb} ${p.status}`,
        what: `ack ${id} (${p.target} ${p.status} ${p.verb} for command ${p.commandId})`,
      })
    }
    default:
      return bad(id, `unexpected kind ${kind}`)
  }
}

const ok = (value: InputView): { ok: true; value: InputView } => ({ ok: true, value })

/** Correlating labels of a command's args (canonical JSON); only on the fallback path. */
export function argsLabels(args: unknown): Record<string, unknown> | undefined {
  if (!isStr(args) || args.length > 65_536) return undefined
  try {
    const v: unknown = JSON.parse(args)
    return isObj(v) ? v : undefined
  } catch {
    return undefined
  }
}
