import type { OperatorFunction } from 'rxjs'
import { derivedId, type Fact, type IncidentFact } from '../../schemas/index.js'
import { runStage, type Emission, type Stage, type StepResult, type Versioned } from '../stage.js'
import { deserializeIncidentState, serializeIncidentState } from './checkpoint.js'
import type { IncidentConfig } from './config.js'
import { entityFromKey, entityOf, type Entity } from './entity.js'
import { openedExplain, ResolveReason, resolvedExplain, severityName, titleOf, updatedExplain, type Via } from './explain.js'
import {
  addFactId,
  advanceClock,
  clockOf,
  indexOpen,
  initialIncidentState,
  MAX_SIGNALS,
  PRUNE_EVERY,
  pruneIds,
  rememberId,
  unindexOpen,
  type IncidentState,
  type OpenIncident,
} from './state.js'
import { argsLabels, isIncidentInput, viewOf, type IncidentInput, type InputView } from './view.js'

export const INCIDENT_STAGE = 'incident'
export const INCIDENT_VERSION = '1'
const PRODUCER = `${INCIDENT_STAGE}@${INCIDENT_VERSION}`

export const Transition = { Opened: 'opened', Updated: 'updated', Resolved: 'resolved' } as const
export type Transition = (typeof Transition)[keyof typeof Transition]

/** `derivedId('incident', version, revision, [id of the fact that opened it])`. */
export const incidentIdOf = (revision: number, openerId: string): string => derivedId(INCIDENT_STAGE, INCIDENT_VERSION, revision, [openerId])

const records = new WeakMap<Versioned<IncidentConfig>, Readonly<Record<string, number>>>()
/** `{ [bucket]: revision }`, built once per config object rather than per fact. */
function configRecord(c: Versioned<IncidentConfig>): Readonly<Record<string, number>> {
  let r = records.get(c)
  if (r === undefined) {
    r = Object.freeze({ [c.bucket]: c.revision })
    records.set(c, r)
  }
  return r
}

function transition(inc: OpenIncident, t: Transition, input: IncidentInput, ts: number, config: Versioned<IncidentConfig>, explain: string): IncidentFact {
  return {
    id: derivedId(INCIDENT_STAGE, INCIDENT_VERSION, config.revision, [inc.id, input.id], t),
    ts,
    source: inc.entity.source,
    lane: 'anomaly',
    kind: 'incident',
    payload: {
      incidentId: inc.id,
      transition: t,
      severity: severityName(inc.rank),
      entity: inc.entity,
      openedAt: inc.openedAt,
      updatedAt: inc.lastActivity,
      factIds: inc.factIds.slice(),
      title: titleOf(inc),
    },
    lineage: [input.id],
    producer: PRODUCER,
    config: configRecord(config),
    explain,
  }
}

function resolve(s: IncidentState, inc: OpenIncident, at: number, reason: ResolveReason, input: IncidentInput, config: Versioned<IncidentConfig>, out: Fact[]): void {
  s.open.delete(inc.key)
  unindexOpen(s, inc)
  s.counts.resolved++
  if (reason === ResolveReason.Capacity) s.counts.forced++
  out.push(transition(inc, Transition.Resolved, input, at, config, resolvedExplain(inc, at, reason, clockOf(s, inc.entity.source ?? ''), input.id, config.value)))
}

/** When an incident is due: the end of its quiet period or of its maximum duration, whichever comes first. */
function dueAt(inc: OpenIncident, c: IncidentConfig): { at: number; reason: ResolveReason } {
  const quietEnd = inc.lastActivity + c.quietPeriodMs
  const maxEnd = inc.openedAt + c.maxDurationMs
  return quietEnd <= maxEnd ? { at: quietEnd, reason: ResolveReason.Quiet } : { at: Math.max(maxEnd, inc.lastActivity), reason: ResolveReason.MaxDuration }
}

/** Resolves every open incident whose due time the watermark has passed, earliest first (ties by id). */
function resolveDue(s: IncidentState, input: IncidentInput, config: Versioned<IncidentConfig>, out: Fact[]): void {
  const c = config.value
  const w = s.watermark as number
  const due = new Map<string, OpenIncident>()
  for (let e = s.byActivity.peek(); e !== undefined && e.v + c.quietPeriodMs < w; e = s.byActivity.peek()) {
    s.byActivity.pop()
    const inc = s.open.get(e.key)
    if (inc === undefined || inc.id !== e.id) continue
    if (inc.lastActivity !== e.v) s.byActivity.push({ v: inc.lastActivity, id: inc.id, key: inc.key })
    else due.set(inc.id, inc)
  }
  for (let e = s.byOpened.peek(); e !== undefined && e.v + c.maxDurationMs < w; e = s.byOpened.peek()) {
    s.byOpened.pop()
    const inc = s.open.get(e.key)
    if (inc !== undefined && inc.id === e.id && inc.openedAt === e.v) due.set(inc.id, inc)
  }
  if (due.size === 0) return
  const list = [...due.values()].map((inc) => ({ inc, ...dueAt(inc, c) }))
  list.sort((a, b) => a.at - b.at || (a.inc.id < b.inc.id ? -1 : a.inc.id > b.inc.id ? 1 : 0))
  for (const d of list) resolve(s, d.inc, d.at, d.reason, input, config, out)
}

/**
 * The incidents of `source` that its own clock has carried past due, when that clock is ahead
 * of the incidents' clock (resolveDue has handled everything the incidents' clock covers).
 */
function resolveDueOfSource(s: IncidentState, source: string, input: IncidentInput, config: Versioned<IncidentConfig>, out: Fact[]): void {
  const own = s.clocks.get(source)
  const keys = s.bySource.get(source)
  if (own === undefined || keys === undefined || (s.watermark !== null && own <= s.watermark)) return
  const list: Array<{ inc: OpenIncident; at: number; reason: ResolveReason }> = []
  for (const k of keys) {
    const inc = s.open.get(k)
    if (inc === undefined) continue
    const due = dueAt(inc, config.value)
    if (own > due.at) list.push({ inc, ...due })
  }
  list.sort((a, b) => a.at - b.at || (a.inc.id < b.inc.id ? -1 : a.inc.id > b.inc.id ? 1 : 0))
  for (const d of list) resolve(s, d.inc, d.at, d.reason, input, config, out)
}

/** The open incident with the earliest lastActivity (ties by id), straightening lagging queue entries on the way. */
function quietest(s: IncidentState): OpenIncident | undefined {
  for (let e = s.byActivity.peek(); e !== undefined; e = s.byActivity.peek()) {
    const inc = s.open.get(e.key)
    if (inc !== undefined && inc.id === e.id && inc.lastActivity === e.v) return inc
    s.byActivity.pop()
    if (inc !== undefined && inc.id === e.id) s.byActivity.push({ v: inc.lastActivity, id: inc.id, key: inc.key })
  }
  return undefined
}

/** Lineage first (decisionId / commandId, then lineage ids), then the entity, then (commands, acks) the source. */
function correlate(s: IncidentState, v: InputView, c: IncidentConfig): { inc: OpenIncident; via: Via } | { entity: Entity; via: Via } {
  for (const id of v.links) {
    const e = s.ids.get(id)
    if (e === undefined) continue
    const inc = s.open.get(e.k)
    if (inc) return { inc, via: { kind: 'link', id } }
    const entity = entityFromKey(e.k)
    if (entity) return { entity, via: { kind: 'link', id } }
  }
  const f = v.fact
  const entity = entityOf(f.source, f.kind === 'command' ? argsLabels(v.labels) : v.labels, c.correlate)
  const inc = s.open.get(entity.key)
  if (inc) return { inc, via: { kind: 'entity' } }
  if (v.control) {
    let best: OpenIncident | undefined
    for (const i of s.open.values()) {
      if (i.entity.source !== f.source) continue
      if (!best || i.lastActivity > best.lastActivity || (i.lastActivity === best.lastActivity && i.id < best.id)) best = i
    }
    if (best) return { inc: best, via: { kind: 'source' } }
  }
  return { entity, via: { kind: 'entity' } }
}

function noteTitle(inc: OpenIncident, v: InputView): void {
  if (v.signal !== null && !inc.signals.includes(v.signal)) {
    if (inc.signals.length < MAX_SIGNALS) inc.signals.push(v.signal)
    else inc.moreSignals = true
  }
  if (v.action !== null) inc.action = v.action
}

function openIncident(s: IncidentState, v: InputView, entity: Entity, via: Via, config: Versioned<IncidentConfig>, out: Fact[]): OpenIncident {
  const c = config.value
  const f = v.fact
  if (s.open.size >= c.maxOpen) {
    const q = quietest(s)
    if (q) resolve(s, q, Math.max(clockOf(s, q.entity.source ?? ''), q.lastActivity), ResolveReason.Capacity, f, config, out)
  }
  const inc: OpenIncident = {
    id: incidentIdOf(config.revision, f.id),
    key: entity.key,
    entity: Object.freeze(entity.labels),
    openedAt: f.ts,
    lastActivity: f.ts,
    rank: v.rank,
    factIds: [f.id],
    keyFlags: [v.key ? 1 : 0],
    count: 1,
    signals: [],
    moreSignals: false,
    action: null,
  }
  noteTitle(inc, v)
  s.open.set(entity.key, inc)
  indexOpen(s, inc)
  s.byActivity.push({ v: inc.lastActivity, id: inc.id, key: inc.key })
  s.byOpened.push({ v: inc.openedAt, id: inc.id, key: inc.key })
  s.counts.opened++
  out.push(transition(inc, Transition.Opened, f, f.ts, config, openedExplain(inc, v.what, f.ts, via, c)))
  return inc
}

function updateIncident(s: IncidentState, inc: OpenIncident, v: InputView, via: Via, config: Versioned<IncidentConfig>, out: Fact[]): void {
  const f = v.fact
  const prevRank = inc.rank
  if (f.ts > inc.lastActivity) inc.lastActivity = f.ts
  if (f.ts < inc.openedAt) {
    inc.openedAt = f.ts
    s.byOpened.push({ v: inc.openedAt, id: inc.id, key: inc.key })
  }
  if (v.rank > inc.rank) inc.rank = v.rank
  addFactId(inc, f.id, v.key, config.value.maxFacts)
  inc.count++
  noteTitle(inc, v)
  s.counts.updated++
  // The incident's event time never goes back: a late fact's update is stamped with lastActivity.
  out.push(transition(inc, Transition.Updated, f, inc.lastActivity, config, updatedExplain(inc, v.what, f.ts, via, prevRank)))
}

function step(state: IncidentState, input: IncidentInput, config: Versioned<IncidentConfig>): StepResult<IncidentState> {
  const v = viewOf(input)
  if (!v.ok) return { state, out: [], rejected: v.error }
  const view = v.value
  const f = view.fact
  const s = state
  if (s.ids.get(f.id)?.f === 1) {
    s.counts.duplicates++
    return { state: s, out: [] }
  }
  const c = config.value
  const out: Fact[] = []
  s.steps++
  advanceClock(s, f.source, f.ts)
  resolveDue(s, f, config, out)
  resolveDueOfSource(s, f.source, f, config, out)

  const found = correlate(s, view, c)
  const inc = 'inc' in found ? found.inc : openIncident(s, view, found.entity, found.via, config, out)
  if ('inc' in found) updateIncident(s, inc, view, found.via, config, out)
  // A late fact can open (or stretch back) an incident that is already past due: resolve it now.
  const due = dueAt(inc, c)
  if (clockOf(s, inc.entity.source ?? '') > due.at) resolve(s, inc, due.at, due.reason, f, config, out)

  rememberId(s, f.id, inc.key, f.ts, true, c.maxIds)
  for (const id of view.remember) rememberId(s, id, inc.key, f.ts, false, c.maxIds)
  if (s.steps % PRUNE_EVERY === 0) pruneIds(s, c.idRetentionMs)
  return { state: s, out }
}

/**
 * The incident stage: anomaly, alert, decision, command and ack facts in; incident facts out
 * (kind `incident`, lane `anomaly`, subject `ben.incident.<source>`), one per transition:
 * `opened`, `updated` (every fact that joins), `resolved` (quiet period or maximum duration
 * passed in event time, or capacity). See README.md for correlation, lifecycle and bounds.
 * `step` mutates the state it is given (Maps, bounded); checkpoint it with `serialize`.
 */
export const incidentStage: Stage<IncidentState, IncidentConfig, IncidentInput> = {
  name: INCIDENT_STAGE,
  version: INCIDENT_VERSION,
  initialState: initialIncidentState,
  accepts: isIncidentInput,
  step,
  serialize: serializeIncidentState,
  deserialize: deserializeIncidentState,
}

/** The incident stage as an operator; `config()` is read at every fact (hot-reloaded by the runner). */
export function incident(config: () => Versioned<IncidentConfig>, initial?: IncidentState): OperatorFunction<IncidentInput, Emission<IncidentInput>> {
  return runStage(incidentStage, config, initial)
}
