import type { Labels } from '../../schemas/index.js'
import type { EnsembleState } from './ensemble.js'
import type { PcaState } from './pca.js'

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
  /** Latest value of each member metric and whether it has been seen. */
  values: number[]
  seen: number[]
  pca: PcaState
}

/**
 * Stage state. `step` updates it **in place** (and returns the same object): copying every
 * series on every fact would cost more than the detectors. A state object therefore belongs to
 * one run; to fork or checkpoint it use `serialize`/`deserialize` (plain JSON). Map order is
 * insertion order, which serialisation preserves, so a restored state continues exactly as
 * the original would have.
 */
export interface DetectState {
  readonly series: Map<string, SeriesRecord>
  readonly groups: Map<string, GroupRecord>
  /** Series and groups dropped by the size bound, and points refused as too late. */
  evicted: number
  late: number
}

export const STATE_VERSION = 1

export interface SerializedDetectState {
  readonly v: typeof STATE_VERSION
  readonly series: SeriesRecord[]
  readonly groups: GroupRecord[]
  readonly evicted: number
  readonly late: number
}

export const newDetectState = (): DetectState => ({ series: new Map(), groups: new Map(), evicted: 0, late: 0 })

export function serializeDetectState(s: DetectState): SerializedDetectState {
  // a JSON round trip gives a deep, plain copy that cannot alias the live state
  return JSON.parse(JSON.stringify({ v: STATE_VERSION, series: [...s.series.values()], groups: [...s.groups.values()], evicted: s.evicted, late: s.late })) as SerializedDetectState
}

/** Restores a serialised state; anything unreadable gives a fresh state (detectors re-learn). */
export function deserializeDetectState(raw: unknown): DetectState {
  const s = newDetectState()
  if (!raw || typeof raw !== 'object') return s
  const r = raw as Partial<SerializedDetectState>
  if (r.v !== STATE_VERSION || !Array.isArray(r.series) || !Array.isArray(r.groups)) return s
  const copy = JSON.parse(JSON.stringify(r)) as SerializedDetectState
  for (const rec of copy.series) if (rec && typeof rec.key === 'string') s.series.set(rec.key, rec)
  for (const rec of copy.groups) if (rec && typeof rec.key === 'string') s.groups.set(rec.key, rec)
  s.evicted = typeof copy.evicted === 'number' ? copy.evicted : 0
  s.late = typeof copy.late === 'number' ? copy.late : 0
  return s
}

/**
 * Keeps a table within `max` entries before one is added: when full, the least recently
 * updated sixteenth (by event time of their last point, ties by key) is dropped. Event time,
 * not wall clock, so the same facts evict the same series on every run.
 */
export function makeRoom<R extends { readonly key: string; lastTs: number }>(table: Map<string, R>, max: number): number {
  if (table.size < max) return 0
  const drop = Math.max(1, table.size - max + 1, Math.floor(max / 16))
  const all = [...table.values()].sort((a, b) => a.lastTs - b.lastTs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (let i = 0; i < drop && i < all.length; i++) table.delete(all[i].key)
  return Math.min(drop, all.length)
}
