import type { Labels } from '../../schemas/index.js'
import { ChangeLog } from '../runner/index.js'
import { reviveEnsembleState, type EnsembleState } from './ensemble.js'
import type { PcaState } from './pca.js'
import { noteLiveSeries } from './heap.js'

/** One univariate series: (source, metric name, labels). */
export interface SeriesRecord {
  readonly key: string
  readonly source: string
  readonly metric: string
  readonly labels: Labels
  /** Latest event time seen (ms). */
  lastTs: number
  /** Id of the last point scored: the same fact delivered again (stored twice) is not counted twice. */
  lastId?: string
  /** `SeriesSettings.key` (a 32-digit fingerprint) the state was built with; a different one resets the state. */
  settingsKey: string
  /** Creation order (the series Map's order, kept by a restore). */
  ord: number
  ens: EnsembleState
}

/** One multivariate group of one source. */
export interface GroupRecord {
  readonly key: string
  readonly source: string
  readonly group: string
  lastTs: number
  /** Id of the last point of the group's first metric (it paces the group): not scored twice. */
  lastId?: string
  settingsKey: string
  ord: number
  /** Latest value of each member metric and whether it has been seen. */
  values: number[]
  seen: number[]
  pca: PcaState
}

/** The series of one source (derived from the series table; never checkpointed). */
export interface SourceSeries {
  readonly keys: Set<string>
  /** A lower bound of the oldest `lastTs` among them (skips idle scans that would find nothing). */
  oldest: number
}

/** Tables of the change log. */
export const Table = { Series: 0, Groups: 1 } as const

/**
 * Stage state. `step` updates it **in place** (and returns the same object): copying every
 * series on every fact would cost more than the detectors. A state object therefore belongs to
 * one run; to fork or checkpoint it use `serialize`/`deserialize` (plain JSON) or the binary
 * journal (`journal.ts`: incremental checkpoints). Map order is creation order, which both keep,
 * so a restored state continues exactly as the original would have.
 */
export interface DetectState {
  readonly series: Map<string, SeriesRecord>
  readonly groups: Map<string, GroupRecord>
  /** Series and groups dropped by the size bound, and points refused as too late. */
  evicted: number
  late: number
  /** Points of new series refused by `limits.maxSeriesPerSource`, and series dropped as idle to make room. */
  refused: number
  idle: number
  /** Records created so far (the next record's `ord`). */
  created: number
  /** Per source: its series. Derived from `series`. */
  readonly sources: Map<string, SourceSeries>
  /** What changed since the last checkpoint segment (bookkeeping, not part of the state's value). */
  readonly journal: ChangeLog
}

export const STATE_VERSION = 1

export interface SerializedDetectState {
  readonly v: typeof STATE_VERSION
  readonly series: SeriesRecord[]
  readonly groups: GroupRecord[]
  readonly evicted: number
  readonly late: number
  readonly refused?: number
  readonly idle?: number
  readonly created?: number
}

export const newDetectState = (): DetectState => ({
  series: new Map(),
  groups: new Map(),
  evicted: 0,
  late: 0,
  refused: 0,
  idle: 0,
  created: 0,
  sources: new Map(),
  journal: new ChangeLog(2),
})

export function serializeDetectState(s: DetectState): SerializedDetectState {
  // a JSON round trip gives a deep, plain copy that cannot alias the live state (typed arrays
  // as plain arrays: the detectors take either back)
  return JSON.parse(
    JSON.stringify(
      {
        v: STATE_VERSION,
        series: [...s.series.values()],
        groups: [...s.groups.values()],
        evicted: s.evicted,
        late: s.late,
        refused: s.refused,
        idle: s.idle,
        created: s.created,
      },
      plainTyped,
    ),
  ) as SerializedDetectState
}

const plainTyped = (_k: string, v: unknown): unknown =>
  v instanceof Uint8Array || v instanceof Uint16Array || v instanceof Float64Array || v instanceof Float32Array ? Array.from(v) : v

/** Restores a serialised state; anything unreadable gives a fresh state (detectors re-learn). Every record is marked changed. */
export function deserializeDetectState(raw: unknown): DetectState {
  const s = newDetectState()
  if (!raw || typeof raw !== 'object') return s
  const r = raw as Partial<SerializedDetectState>
  if (r.v !== STATE_VERSION || !Array.isArray(r.series) || !Array.isArray(r.groups)) return s
  const copy = JSON.parse(JSON.stringify(r)) as SerializedDetectState
  let ord = 0
  for (const rec of copy.series)
    if (rec && typeof rec.key === 'string') addSeries(s, { ...rec, ens: reviveEnsembleState(rec.ens), ord: typeof rec.ord === 'number' ? rec.ord : ord++ })
  for (const rec of copy.groups) if (rec && typeof rec.key === 'string') addGroup(s, { ...rec, ord: typeof rec.ord === 'number' ? rec.ord : ord++ })
  s.evicted = typeof copy.evicted === 'number' ? copy.evicted : 0
  s.late = typeof copy.late === 'number' ? copy.late : 0
  s.refused = typeof copy.refused === 'number' ? copy.refused : 0
  s.idle = typeof copy.idle === 'number' ? copy.idle : 0
  s.created = Math.max(typeof copy.created === 'number' ? copy.created : 0, ord, ...[...s.series.values(), ...s.groups.values()].map((x) => x.ord + 1))
  return s
}

/** Adds (or replaces) a series, keeping the per-source index and the journal up to date. */
export function addSeries(s: DetectState, rec: SeriesRecord): void {
  indexSeries(s, rec)
  s.journal.touch(Table.Series, rec.key)
}

/** Adds a series without marking it changed (a restore). */
export function indexSeries(s: DetectState, rec: SeriesRecord): void {
  s.series.set(rec.key, rec)
  // a large state bounds the heap's growth (heap.ts); a small one keeps V8's default
  noteLiveSeries(s.series.size)
  let src = s.sources.get(rec.source)
  if (!src) s.sources.set(rec.source, (src = { keys: new Set(), oldest: rec.lastTs }))
  src.keys.add(rec.key)
  if (rec.lastTs < src.oldest) src.oldest = rec.lastTs
}

export function addGroup(s: DetectState, rec: GroupRecord): void {
  s.groups.set(rec.key, rec)
  s.journal.touch(Table.Groups, rec.key)
}

export function removeSeries(s: DetectState, rec: SeriesRecord): void {
  s.series.delete(rec.key)
  const src = s.sources.get(rec.source)
  if (src) {
    src.keys.delete(rec.key)
    if (src.keys.size === 0) s.sources.delete(rec.source)
  }
  s.journal.remove(Table.Series, rec.key)
}

export function removeGroup(s: DetectState, rec: GroupRecord): void {
  s.groups.delete(rec.key)
  s.journal.remove(Table.Groups, rec.key)
}

/**
 * Keeps a table within `max` entries before one is added: when full, the least recently
 * updated sixteenth (by event time of their last point, ties by key) is dropped. Event time,
 * not wall clock, so the same facts evict the same series on every run.
 */
export function makeRoom<R extends { readonly key: string; lastTs: number }>(table: Map<string, R>, max: number, drop: (rec: R) => void = (r) => void table.delete(r.key)): number {
  if (table.size < max) return 0
  const n = Math.max(1, table.size - max + 1, Math.floor(max / 16))
  const all = [...table.values()].sort((a, b) => a.lastTs - b.lastTs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (let i = 0; i < n && i < all.length; i++) drop(all[i])
  return Math.min(n, all.length)
}

/**
 * Drops the series of a source whose latest point is more than `idleMs` older than `now` (the
 * event time of the point that wants room). Event time only: the same facts, in the same
 * per-source order, drop the same series.
 */
export function dropIdle(s: DetectState, source: string, now: number, idleMs: number): number {
  const src = s.sources.get(source)
  if (!src || idleMs <= 0) return 0
  const before = now - idleMs
  if (src.oldest >= before) return 0
  let dropped = 0
  let oldest = Infinity
  for (const key of [...src.keys]) {
    const rec = s.series.get(key)!
    if (rec.lastTs < before) {
      removeSeries(s, rec)
      dropped++
    } else if (rec.lastTs < oldest) oldest = rec.lastTs
  }
  if (s.sources.get(source) === src) src.oldest = oldest
  s.idle += dropped
  return dropped
}
