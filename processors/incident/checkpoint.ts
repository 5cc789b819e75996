import { initialIncidentState, recomputeClocks, requeue, type IdEntry, type IncidentCounts, type IncidentState, type OpenIncident } from './state.js'

/** The plain-JSON checkpoint of an IncidentState (`serialize`); entity keys are stored once. */
export interface SerializedIncidentState {
  readonly v: 1
  readonly watermark: number | null
  /** Per-source event-time clocks, `[source, ts]` (absent in checkpoints written before them). */
  readonly clocks?: ReadonlyArray<readonly [string, number]>
  readonly steps: number
  readonly counts: IncidentCounts
  readonly open: readonly OpenIncident[]
  /** Distinct entity keys referenced by `ids`. */
  readonly keys: readonly string[]
  /** `[id, index into keys, event time, 1 if it was an input]`, in insertion order. */
  readonly ids: ReadonlyArray<readonly [string, number, number, 0 | 1]>
}

/** Plain JSON, insertion order kept (it matters for eviction ties and scan order). */
export function serializeIncidentState(s: IncidentState): SerializedIncidentState {
  const keyIndex = new Map<string, number>()
  const keys: string[] = []
  const ids: Array<readonly [string, number, number, 0 | 1]> = []
  for (const [id, e] of s.ids) {
    let i = keyIndex.get(e.k)
    if (i === undefined) {
      i = keys.length
      keys.push(e.k)
      keyIndex.set(e.k, i)
    }
    ids.push([id, i, e.t, e.f])
  }
  const open = [...s.open.values()].map((inc) => ({ ...inc, entity: { ...inc.entity }, factIds: [...inc.factIds], keyFlags: [...inc.keyFlags], signals: [...inc.signals] }))
  return { v: 1, watermark: s.watermark, clocks: [...s.clocks], steps: s.steps, counts: { ...s.counts }, open, keys, ids }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

function openIncident(raw: unknown): OpenIncident | undefined {
  if (!isObj(raw) || typeof raw.id !== 'string' || typeof raw.key !== 'string' || !isObj(raw.entity)) return undefined
  const entity: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw.entity)) if (typeof v === 'string') entity[k] = v
  if (typeof entity.source !== 'string') return undefined
  const factIds = strs(raw.factIds)
  const flags = Array.isArray(raw.keyFlags) ? raw.keyFlags.map((x) => (x === 1 ? 1 : 0)) : []
  return {
    id: raw.id,
    key: raw.key,
    entity: Object.freeze(entity),
    openedAt: num(raw.openedAt),
    lastActivity: num(raw.lastActivity),
    rank: num(raw.rank, -1),
    factIds,
    keyFlags: factIds.map((_, i) => flags[i] ?? 0),
    count: num(raw.count, factIds.length),
    signals: strs(raw.signals),
    moreSignals: raw.moreSignals === true,
    action: typeof raw.action === 'string' ? raw.action : null,
  }
}

/** Rebuilds a state from `serializeIncidentState` output (after JSON). Malformed entries are skipped. */
export function deserializeIncidentState(raw: unknown): IncidentState {
  const s = initialIncidentState()
  if (!isObj(raw)) return s
  s.watermark = typeof raw.watermark === 'number' && Number.isFinite(raw.watermark) ? raw.watermark : null
  if (Array.isArray(raw.clocks)) {
    for (const c of raw.clocks) if (Array.isArray(c) && typeof c[0] === 'string' && typeof c[1] === 'number' && Number.isFinite(c[1])) s.clocks.set(c[0], c[1])
    recomputeClocks(s)
  }
  s.steps = num(raw.steps)
  if (isObj(raw.counts)) for (const k of Object.keys(s.counts) as Array<keyof IncidentCounts>) s.counts[k] = num(raw.counts[k])
  if (Array.isArray(raw.open)) {
    for (const r of raw.open) {
      const inc = openIncident(r)
      if (inc) s.open.set(inc.key, inc)
    }
  }
  const keys = strs(raw.keys)
  if (Array.isArray(raw.ids)) {
    for (const r of raw.ids) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'number' || keys[r[1]] === undefined) continue
      const e: IdEntry = { k: keys[r[1]], t: num(r[2]), f: r[3] === 1 ? 1 : 0 }
      s.ids.set(r[0], e)
    }
  }
  requeue(s)
  return s
}
