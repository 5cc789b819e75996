import type { Labels } from '../../schemas/index.js'
import { TimeQueue } from './heap.js'

/** An open incident. Mutated in place by the stage (see README.md, "State"). */
export interface OpenIncident {
  readonly id: string
  /** Entity key (entity.ts): the `open` map's key. */
  readonly key: string
  readonly entity: Labels
  openedAt: number
  lastActivity: number
  /** Highest SEVERITY_ORDER rank seen; -1 while only commands/acks were seen. */
  rank: number
  /** Bounded: the opener first, then key facts kept before routine ones (`addFactId`). */
  factIds: string[]
  /** Parallel to `factIds`: 1 for key facts (unsuppressed decisions, commands, acks). */
  keyFlags: number[]
  /** Every fact that joined, kept or not. */
  count: number
  /** Distinct signals for the title (`cpu.load anomaly`), at most MAX_SIGNALS. */
  signals: string[]
  moreSignals: boolean
  /** Latest action for the title (`throttle_job executed`). */
  action: string | null
}

/** What the stage remembers about a fact id: the entity key, its event time, whether it was an input. */
export interface IdEntry {
  k: string
  t: number
  /** 1 when the id was an input fact (duplicates are skipped); 0 when only referenced (lineage, commandId). */
  f: 0 | 1
}

export interface IncidentCounts {
  opened: number
  updated: number
  resolved: number
  /** Resolved early because `maxOpen` incidents were open. */
  forced: number
  /** Inputs whose id was already taken (re-deliveries): no output. */
  duplicates: number
  /** Ids forgotten because of `maxIds` (the oldest sixteenth by event time) or `idRetention`. */
  forgotten: number
}

export interface IncidentState {
  /**
   * The incidents' event-time clock; null before the first fact. It is the second-highest of
   * the per-source clocks (the highest while only one source has spoken): one source whose
   * facts run ahead (a wrong clock, a forged timestamp) cannot resolve the incidents of others.
   */
  watermark: number | null
  /** Highest event time seen per source: a source's own incidents follow its own clock too. */
  readonly clocks: Map<string, number>
  /** The source with the highest clock (in memory; recomputed from `clocks` on restore). */
  lead: { source: string; t: number } | null
  /** The highest clock among the other sources; null while only one source has spoken. */
  second: number | null
  /** Open incident keys by source (in memory; rebuilt by `requeue`). */
  bySource: Map<string, Set<string>>
  steps: number
  /** Open incidents by entity key, in opening order. */
  readonly open: Map<string, OpenIncident>
  /** Remembered ids (insertion order), bounded by `maxIds` and `idRetention`. */
  readonly ids: Map<string, IdEntry>
  /**
   * Open incidents by lastActivity and by openedAt, (v, id) order: what may be due is found
   * without scanning every open incident. Lazy: an activity entry may lag its incident's
   * lastActivity (it is re-queued when it reaches the top); entries of resolved incidents are
   * dropped when they reach the top. In memory only: rebuilt from `open` by `requeue`.
   */
  byActivity: TimeQueue
  byOpened: TimeQueue
  readonly counts: IncidentCounts
}

export const MAX_SIGNALS = 3
/** Ids past their retention are forgotten every this many steps. */
export const PRUNE_EVERY = 1024

export const initialIncidentState = (): IncidentState => ({
  watermark: null,
  clocks: new Map(),
  lead: null,
  second: null,
  bySource: new Map(),
  steps: 0,
  open: new Map(),
  ids: new Map(),
  byActivity: new TimeQueue(),
  byOpened: new TimeQueue(),
  counts: { opened: 0, updated: 0, resolved: 0, forced: 0, duplicates: 0, forgotten: 0 },
})

/**
 * Adds a fact id to an incident, keeping at most `max`: when full, the oldest routine id
 * (anomaly, alert, suppressed decision) after the opener goes; when every id is a key fact,
 * the oldest after the opener goes.
 */
export function addFactId(inc: OpenIncident, id: string, key: boolean, max: number): void {
  if (inc.factIds.length >= max) {
    let drop = inc.keyFlags.indexOf(0, 1)
    if (drop < 0) drop = 1
    inc.factIds.splice(drop, 1)
    inc.keyFlags.splice(drop, 1)
    while (inc.factIds.length >= max) {
      inc.factIds.splice(1, 1)
      inc.keyFlags.splice(1, 1)
    }
  }
  inc.factIds.push(id)
  inc.keyFlags.push(key ? 1 : 0)
}

/** Remembers an id; when over `maxIds`, forgets the oldest sixteenth by event time (ties by id). */
export function rememberId(s: IncidentState, id: string, k: string, t: number, input: boolean, maxIds: number): void {
  const prev = s.ids.get(id)
  if (prev) {
    prev.k = k
    if (t > prev.t) prev.t = t
    if (input) prev.f = 1
    return
  }
  s.ids.set(id, { k, t, f: input ? 1 : 0 })
  if (s.ids.size > maxIds) forgetOldest(s, Math.max(1, Math.ceil(s.ids.size / 16)))
}

function forgetOldest(s: IncidentState, n: number): void {
  const all: Array<[string, number]> = []
  for (const [id, e] of s.ids) all.push([id, e.t])
  all.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  for (let i = 0; i < n && i < all.length; i++) s.ids.delete(all[i][0])
  s.counts.forgotten += Math.min(n, all.length)
}

/** Forgets ids older than `watermark - retentionMs`. */
export function pruneIds(s: IncidentState, retentionMs: number): void {
  if (s.watermark === null) return
  const floor = s.watermark - retentionMs
  for (const [id, e] of s.ids) {
    if (e.t < floor) {
      s.ids.delete(id)
      s.counts.forgotten++
    }
  }
}

/**
 * Advances `source`'s clock to `t` (clocks never go back) and the incidents' clock with it: the
 * second-highest source clock, or the only one.
 */
export function advanceClock(s: IncidentState, source: string, t: number): void {
  const prev = s.clocks.get(source)
  if (prev !== undefined && prev >= t) return
  s.clocks.set(source, t)
  if (s.lead === null) s.lead = { source, t }
  else if (s.lead.source === source) s.lead.t = t
  else if (t > s.lead.t) {
    s.second = s.lead.t
    s.lead = { source, t }
  } else if (s.second === null || t > s.second) s.second = t
  s.watermark = s.second ?? s.lead.t
}

/** Recomputes the lead and second clocks from `clocks` (after deserialising). */
export function recomputeClocks(s: IncidentState): void {
  s.lead = null
  s.second = null
  for (const [source, t] of s.clocks) {
    if (s.lead === null || t > s.lead.t) {
      if (s.lead !== null) s.second = s.second === null ? s.lead.t : Math.max(s.second, s.lead.t)
      s.lead = { source, t }
    } else s.second = s.second === null ? t : Math.max(s.second, t)
  }
  if (s.lead !== null) s.watermark = s.second ?? s.lead.t
}

/** The clock an incident of `source` follows: the incidents' clock, or its own source's when ahead. */
export function clockOf(s: IncidentState, source: string): number {
  const own = s.clocks.get(source)
  const w = s.watermark ?? Number.NEGATIVE_INFINITY
  return own !== undefined && own > w ? own : w
}

export function indexOpen(s: IncidentState, inc: OpenIncident): void {
  const src = inc.entity.source ?? ''
  let set = s.bySource.get(src)
  if (!set) s.bySource.set(src, (set = new Set()))
  set.add(inc.key)
}

export function unindexOpen(s: IncidentState, inc: OpenIncident): void {
  const src = inc.entity.source ?? ''
  const set = s.bySource.get(src)
  if (!set) return
  set.delete(inc.key)
  if (set.size === 0) s.bySource.delete(src)
}

/** Rebuilds both time queues and the by-source index from the open incidents (after deserialising). */
export function requeue(s: IncidentState): void {
  s.byActivity = new TimeQueue()
  s.byOpened = new TimeQueue()
  s.bySource = new Map()
  for (const inc of s.open.values()) {
    indexOpen(s, inc)
    s.byActivity.push({ v: inc.lastActivity, id: inc.id, key: inc.key })
    s.byOpened.push({ v: inc.openedAt, id: inc.id, key: inc.key })
  }
}
