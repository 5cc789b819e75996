import type { FactCodec, Fact } from '../schemas/index.js'
import { diffFields, type FieldDiff } from './diff.js'

export const DiffStatus = {
  /** Recorded and rebuilt under the same id, with different bytes. */
  Changed: 'changed',
  /** Recorded, but the rebuild did not derive it. */
  Missing: 'missing',
  /** Derived by the rebuild, but never recorded. */
  Extra: 'extra',
} as const
export type DiffStatus = (typeof DiffStatus)[keyof typeof DiffStatus]

export interface FactDiff {
  readonly status: DiffStatus
  readonly id: string
  readonly kind: string
  readonly source: string
  readonly ts: number
  /** For `changed`: every differing field (at most 20). */
  readonly fields: readonly FieldDiff[]
  readonly recorded?: Fact
  readonly rebuilt?: Fact
}

/** A recorded fact as stored: its id and its Avro bytes (and the writer schema's fingerprint). */
export interface RecordedBytes {
  readonly id: string
  readonly data: Uint8Array
  /** Asked for only when the bytes differ (headers are parsed lazily). */
  fingerprint(): string
  /** Already decoded, when the caller needed it anyway. */
  readonly fact?: Fact
}

export interface CompareCounts {
  compared: number
  identical: number
  changed: number
  missing: number
  extra: number
}

export interface ComparatorOptions {
  readonly codec: FactCodec
  /** Facts outside the window are derived (warm-up) but not compared. */
  inWindow(f: Fact): boolean
  /** Diffs kept in full (the counts go on). Default 1,000. */
  readonly maxDiffs?: number
  /** Unmatched facts held on each side before the oldest is settled as missing/extra. Default 200,000. */
  readonly maxPending?: number
  /**
   * The position of the input being processed (the engine's read order), when the comparisons
   * are split over threads: diffs and kinds are then tagged with it so that `absorb` can put the
   * parts together in the order one comparator would have produced.
   */
  at?(): number
}

/** What a comparator on another thread hands back: counts, and diffs/kinds tagged with positions. */
export interface ComparatorPart {
  readonly counts: CompareCounts
  readonly byKind: Record<string, CompareCounts>
  /** Position of each kind's first count (phase × 2^40 + position). */
  readonly kindAt: Record<string, number>
  readonly diffs: readonly FactDiff[]
  /** Per diff: [phase (0 while reading, 1 missing at the end, 2 extra at the end), position]. */
  readonly diffAt: readonly (readonly [number, number])[]
}

const ZERO = (): CompareCounts => ({ compared: 0, identical: 0, changed: 0, missing: 0, extra: 0 })

/**
 * Pairs rebuilt facts with recorded ones by id as both streams go by, in any order, and
 * compares their Avro bytes; only when the bytes differ are the facts decoded and diffed field
 * by field. Memory is the skew between the two orders (the live pipeline's lag), not the window.
 */
export class Comparator {
  readonly counts: CompareCounts = { compared: 0, identical: 0, changed: 0, missing: 0, extra: 0 }
  readonly byKind: Record<string, CompareCounts> = {}
  readonly diffs: FactDiff[] = []
  private readonly rebuiltPending = new Map<string, Fact>()
  private readonly recordedPending = new Map<string, RecordedBytes>()
  /** With `at`: where each pending fact came in, each diff and each kind's first count. */
  private readonly pendingAt = new Map<string, number>()
  private readonly diffAt: [number, number][] = []
  private readonly kindAt: Record<string, number> = {}
  private phase = 0
  private settling = -1
  private readonly maxDiffs: number
  private readonly maxPending: number
  private scratch = Buffer.allocUnsafe(64 * 1024)

  constructor(private readonly opts: ComparatorOptions) {
    this.maxDiffs = opts.maxDiffs ?? 1000
    this.maxPending = opts.maxPending ?? 200_000
  }

  rebuilt(f: Fact): void {
    const r = this.recordedPending.get(f.id)
    if (r) {
      this.recordedPending.delete(f.id)
      if (this.opts.at) this.pendingAt.delete(f.id)
      this.pair(r, f)
      return
    }
    this.rebuiltPending.set(f.id, f)
    if (this.opts.at) this.pendingAt.set(f.id, this.opts.at())
    if (this.rebuiltPending.size > this.maxPending) this.settleOldest(this.rebuiltPending, (x) => this.extra(x))
  }

  recorded(r: RecordedBytes): void {
    const f = this.rebuiltPending.get(r.id)
    if (f) {
      this.rebuiltPending.delete(r.id)
      if (this.opts.at) this.pendingAt.delete(r.id)
      this.pair(r, f)
      return
    }
    this.recordedPending.set(r.id, r)
    if (this.opts.at) this.pendingAt.set(r.id, this.opts.at())
    if (this.recordedPending.size > this.maxPending) this.settleOldest(this.recordedPending, (x) => this.missing(x))
  }

  /** Settles everything left unmatched. */
  finish(): void {
    this.phase = 1
    for (const r of this.recordedPending.values()) this.settle(r.id, () => this.missing(r))
    this.phase = 2
    for (const f of this.rebuiltPending.values()) this.settle(f.id, () => this.extra(f))
    this.recordedPending.clear()
    this.rebuiltPending.clear()
    this.pendingAt.clear()
  }

  /** Counts, diffs and kinds with their positions, for `absorb` on the thread that reports. */
  part(): ComparatorPart {
    return { counts: this.counts, byKind: this.byKind, kindAt: this.kindAt, diffs: this.diffs, diffAt: this.diffAt }
  }

  /**
   * Adds the parts of comparators that ran on other threads (over other sources) to this one
   * (which must have `at`): counts summed, kinds and diffs ordered by position as one
   * comparator fed everything in that order would have listed them (at the same position, a
   * part's before this one's: a worker's scrubbed fact comes before the anomaly detect derived
   * from it), the first `maxDiffs` kept.
   */
  absorb(parts: readonly ComparatorPart[]): void {
    const all = [...parts, this.part()]
    for (const p of parts) for (const k of Object.keys(this.counts) as (keyof CompareCounts)[]) this.counts[k] += p.counts[k]
    const kinds = new Map<string, { at: number; order: number; c: CompareCounts }>()
    all.forEach((p, order) => {
      for (const [kind, c] of Object.entries(p.byKind)) {
        const e = kinds.get(kind)
        const at = p.kindAt[kind] ?? 0
        if (!e) kinds.set(kind, { at, order, c: { ...c } })
        else {
          for (const k of Object.keys(c) as (keyof CompareCounts)[]) e.c[k] += c[k]
          if (at < e.at || (at === e.at && order < e.order)) Object.assign(e, { at, order })
        }
      }
    })
    for (const k of Object.keys(this.byKind)) delete this.byKind[k]
    for (const [kind, e] of [...kinds].sort((a, b) => a[1].at - b[1].at || a[1].order - b[1].order)) this.byKind[kind] = e.c
    const tagged = all.flatMap((p, order) => p.diffs.map((d, i) => ({ d, phase: p.diffAt[i]?.[0] ?? 0, at: p.diffAt[i]?.[1] ?? 0, order, i })))
    tagged.sort((a, b) => a.phase - b.phase || a.at - b.at || a.order - b.order || a.i - b.i)
    this.diffs.length = 0
    this.diffAt.length = 0
    for (const t of tagged.slice(0, this.maxDiffs)) {
      this.diffs.push(t.d)
      this.diffAt.push([t.phase, t.at])
    }
  }

  private settle(id: string, run: () => void): void {
    this.settling = this.pendingAt.get(id) ?? -1
    run()
    this.settling = -1
  }

  private where(): number {
    return this.settling >= 0 ? this.settling : (this.opts.at?.() ?? 0)
  }

  get identical(): boolean {
    const c = this.counts
    return c.changed === 0 && c.missing === 0 && c.extra === 0
  }

  private settleOldest<V>(m: Map<string, V>, settle: (v: V) => void): void {
    const n = Math.max(1, m.size >> 4)
    let i = 0
    for (const [k, v] of m) {
      if (i++ >= n) break
      m.delete(k)
      this.pendingAt.delete(k)
      settle(v)
    }
  }

  private count(kind: string, what: keyof CompareCounts): void {
    this.counts[what]++
    let c = this.byKind[kind]
    if (!c) {
      c = this.byKind[kind] = ZERO()
      if (this.opts.at) this.kindAt[kind] = this.phase * 2 ** 40 + this.where()
    }
    c[what]++
  }

  private decode(r: RecordedBytes): Fact | undefined {
    if (r.fact) return r.fact
    const d = this.opts.codec.decode(r.data, r.fingerprint())
    return d.ok ? d.value : undefined
  }

  private pair(r: RecordedBytes, f: Fact): void {
    if (!this.opts.inWindow(f)) return
    this.count(f.kind, 'compared')
    // encoded into one scratch buffer, compared in place: no buffer per fact
    let end = this.opts.codec.encodeInto(f, this.scratch, 0)
    while (end < 0) {
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end))
      end = this.opts.codec.encodeInto(f, this.scratch, 0)
    }
    const rd = r.data
    if (end === rd.length && this.scratch.compare(rd, 0, rd.length, 0, end) === 0) {
      // equal Avro bytes: the same fact (bytes written under another schema version could only
      // coincide if both schemas encode these values identically, which means the same values)
      this.count(f.kind, 'identical')
      return
    }
    const rec = this.decode(r)
    const fields = rec ? diffFields(rec, f) : [{ path: '(bytes)', recorded: 'cannot be decoded', rebuilt: 'ok' }]
    if (rec && fields.length === 0) {
      // written under an older schema: same values once resolved
      this.count(f.kind, 'identical')
      return
    }
    this.count(f.kind, 'changed')
    this.keep({ status: DiffStatus.Changed, id: f.id, kind: f.kind, source: f.source, ts: f.ts, fields, recorded: rec, rebuilt: f })
  }

  private missing(r: RecordedBytes): void {
    const rec = this.decode(r)
    if (!rec || !this.opts.inWindow(rec)) return
    this.count(rec.kind, 'compared')
    this.count(rec.kind, 'missing')
    this.keep({ status: DiffStatus.Missing, id: rec.id, kind: rec.kind, source: rec.source, ts: rec.ts, fields: [], recorded: rec })
  }

  private extra(f: Fact): void {
    if (!this.opts.inWindow(f)) return
    this.count(f.kind, 'extra')
    this.keep({ status: DiffStatus.Extra, id: f.id, kind: f.kind, source: f.source, ts: f.ts, fields: [], rebuilt: f })
  }

  private keep(d: FactDiff): void {
    if (this.diffs.length >= this.maxDiffs) return
    this.diffs.push(d)
    if (this.opts.at) this.diffAt.push([this.phase, this.where()])
  }
}
