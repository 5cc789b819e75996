import type { CompiledPack } from './pack.js'
import { sfilter, shardOf, ssize, type Sharded } from './sharded.js'

/**
 * The policy stage's state: plain JSON, updated copy-on-write (a step never mutates the state
 * it was given). All times are event time (the facts' `ts`), never the wall clock.
 */
export interface PolicyState {
  /** Token buckets by `<rule> <verb> <target>` (sharded, see sharded.ts). */
  readonly buckets: Sharded<Bucket>
  /** Blast-radius limits by name: event times of the commands admitted, ascending. */
  readonly windows: Readonly<Record<string, readonly number[]>>
  /** Open (suppressing) decisions by `<rule> <entity>` (sharded). */
  readonly open: Sharded<OpenDecision>
  /** Highest event time seen. */
  readonly watermark: number
  /** Facts evaluated (drives the pruning cadence). */
  readonly steps: number
  /** Facts that matched no rule while the pack said `unmatched: ignore` (no decision written). */
  readonly unmatched: number
  /**
   * Ids of the inputs evaluated, with their event time (sharded): the same fact again (a raw
   * copy stored after JetStream's duplicate window, re-derived by scrub) is not decided twice.
   * Kept while within PRUNE_GRACE_MS of the watermark, at most SEEN_MAX (oldest forgotten first).
   */
  readonly seen: Sharded<number>
  /** Inputs skipped because their id was already evaluated. */
  readonly duplicates: number
}

export interface Bucket {
  /** Tokens left at `at` (fractional while refilling). */
  readonly tokens: number
  readonly at: number
  /** Event time at which the bucket is full again (and can be forgotten). */
  readonly fullAt: number
}

export interface OpenDecision {
  /** The decision that opened the window. */
  readonly id: string
  readonly outcome: string
  readonly ts: number
  readonly until: number
  /** Repeats folded so far. */
  readonly count: number
}

/** Own-property lookup: state keys come from pack names, which may be e.g. `constructor`. */
export const own = <V>(rec: Readonly<Record<string, V>>, key: string): V | undefined => (Object.hasOwn(rec, key) ? rec[key] : undefined)

export const initialPolicyState = (): PolicyState => ({ buckets: {}, windows: {}, open: {}, watermark: 0, steps: 0, unmatched: 0, seen: {}, duplicates: 0 })

/** A bucket at `ts`: refilled by the event time elapsed since it was last touched. */
export function refill(b: Bucket | undefined, capacity: number, intervalMs: number, ts: number): Bucket {
  if (!b) return { tokens: capacity, at: ts, fullAt: ts }
  const elapsed = ts > b.at ? ts - b.at : 0
  const tokens = Math.min(capacity, b.tokens + elapsed / intervalMs)
  return { tokens, at: Math.max(b.at, ts), fullAt: b.fullAt }
}

export function take(b: Bucket, capacity: number, intervalMs: number): Bucket {
  const tokens = b.tokens - 1
  return { tokens, at: b.at, fullAt: b.at + (capacity - tokens) * intervalMs }
}

/** Event time at which the bucket holds a whole token again. */
export const nextTokenAt = (b: Bucket, intervalMs: number): number => b.at + Math.ceil((1 - b.tokens) * intervalMs - 1e-6)

/**
 * Commands admitted in the sliding window ending at `ts`: entries later than `ts - windowMs`.
 * Entries after `ts` (the fact is late) count too: a late fact never widens the budget.
 */
export function countInWindow(times: readonly number[] | undefined, ts: number, windowMs: number): number {
  if (!times) return 0
  const from = ts - windowMs
  let n = 0
  for (let i = times.length - 1; i >= 0 && times[i] > from; i--) n++
  return n
}

/** Oldest entry still counted at `ts` (when the window frees a slot). */
export function oldestInWindow(times: readonly number[] | undefined, ts: number, windowMs: number): number | undefined {
  if (!times) return undefined
  const from = ts - windowMs
  for (const t of times) if (t > from) return t
  return undefined
}

export function admit(times: readonly number[] | undefined, ts: number): number[] {
  const out = times ? [...times] : []
  let i = out.length
  while (i > 0 && out[i - 1] > ts) i--
  out.splice(i, 0, ts)
  return out
}

/** Entries stay this long past their useful life, so moderately late facts still see them. */
export const PRUNE_GRACE_MS = 3_600_000
/** Pruning runs every this many steps; it never changes a decision, only forgets dead entries. */
export const PRUNE_EVERY = 256
/** Input ids remembered for de-duplication at most (checked at each pruning). */
export const SEEN_MAX = 50_000

/** Forgets full buckets, expired windows and closed suppression windows. */
export function prune(s: PolicyState, pack: CompiledPack): PolicyState {
  const horizon = s.watermark - PRUNE_GRACE_MS
  const buckets = sfilter(s.buckets, (b) => b.fullAt > horizon)
  const open = sfilter(s.open, (o) => o.until > horizon)
  const windows: Record<string, readonly number[]> = {}
  for (const l of pack.blastRadius) {
    const ts = own(s.windows, l.name)
    if (!ts) continue
    const kept = ts.filter((t) => t > horizon - l.windowMs)
    if (kept.length) windows[l.name] = kept
  }
  let seen = sfilter(s.seen, (t) => t > horizon)
  const n = ssize(seen)
  if (n > SEEN_MAX) {
    // the oldest (event time, ties by id) beyond the cap are forgotten
    const all: Array<[string, number]> = []
    for (const shard of Object.values(seen)) for (const [id, t] of Object.entries(shard)) all.push([id, t])
    all.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const keep = new Set(all.slice(0, SEEN_MAX).map((e) => e[0]))
    const out: Record<string, Record<string, number>> = {}
    for (const [sh, shard] of Object.entries(seen)) for (const [id, t] of Object.entries(shard)) if (keep.has(id)) (out[sh] ??= {})[id] = t
    seen = out
  }
  return { ...s, buckets, open, windows, seen }
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d)

/** Reads a sharded map, re-sharding every entry (so a checkpoint from any layout is accepted). */
function readSharded<V>(raw: unknown, read: (v: Record<string, unknown>) => V | undefined): Sharded<V> {
  const out: Record<string, Record<string, V>> = {}
  if (!isRecord(raw)) return out
  for (const shard of Object.values(raw)) {
    if (!isRecord(shard)) continue
    for (const [k, v] of Object.entries(shard)) {
      const value = k !== '__proto__' && isRecord(v) ? read(v) : undefined
      if (value !== undefined) (out[shardOf(k)] ??= {})[k] = value
    }
  }
  return out
}

/** Reads a checkpointed state; anything malformed is dropped rather than trusted. */
export function deserializePolicyState(raw: unknown): PolicyState {
  if (!isRecord(raw)) return initialPolicyState()
  const buckets = readSharded<Bucket>(raw.buckets, (b) => ({ tokens: num(b.tokens), at: num(b.at), fullAt: num(b.fullAt) }))
  const open = readSharded<OpenDecision>(raw.open, (o) =>
    typeof o.id === 'string' && typeof o.outcome === 'string' ? { id: o.id, outcome: o.outcome, ts: num(o.ts), until: num(o.until), count: num(o.count) } : undefined,
  )
  const windows: Record<string, number[]> = {}
  if (isRecord(raw.windows)) {
    for (const [k, w] of Object.entries(raw.windows))
      if (k !== '__proto__' && Array.isArray(w)) windows[k] = w.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)).sort((a, b) => a - b)
  }
  const seen: Record<string, Record<string, number>> = {}
  if (isRecord(raw.seen))
    for (const shard of Object.values(raw.seen))
      if (isRecord(shard)) for (const [id, t] of Object.entries(shard)) if (id !== '__proto__' && typeof t === 'number' && Number.isFinite(t)) (seen[shardOf(id)] ??= {})[id] = t
  return { buckets, windows, open, watermark: num(raw.watermark), steps: num(raw.steps), unmatched: num(raw.unmatched), seen, duplicates: num(raw.duplicates) }
}
