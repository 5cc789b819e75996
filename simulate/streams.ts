import type { EdgeFact } from '../schemas/index.js'
import type { HostInfo } from './catalog.js'
import type { HostModel } from './host-model.js'
import type { Rng } from './prng.js'

/**
 * A source of facts in time order: `nextTs` is when it emits next; `emit` appends that
 * instant's facts and moves `nextTs` on. The fleet merges many of these by (nextTs, order).
 */
export interface FactStream {
  readonly order: number
  nextTs: number
  emit(out: EdgeFact[]): void
}

/** A host's metric ticks: every `intervalMs` with ±1 % jitter, all metrics at one instant. */
export class MetricStream implements FactStream {
  nextTs: number
  private readonly jitter: number
  constructor(
    readonly order: number,
    private readonly host: HostModel,
    private readonly rng: Rng,
    private readonly intervalMs: number,
    firstTs: number,
  ) {
    this.nextTs = firstTs
    this.jitter = Math.floor(intervalMs / 100)
  }
  emit(out: EdgeFact[]): void {
    this.host.tick(this.nextTs, out)
    const j = this.jitter ? this.rng.int(-this.jitter, this.jitter) : 0
    this.nextTs += Math.max(1, this.intervalMs + j)
  }
}

/** Poisson arrivals with mean gap `meanMs`: log events, diagnostics, background alerts. */
export class PoissonStream implements FactStream {
  nextTs: number
  constructor(
    readonly order: number,
    private readonly host: HostInfo,
    private readonly rng: Rng,
    private readonly meanMs: number,
    startTs: number,
    private readonly make: (rng: Rng, host: HostInfo, ts: number) => EdgeFact,
  ) {
    this.nextTs = startTs + this.gap()
  }
  private gap(): number {
    return Math.max(1, Math.round(this.rng.exp(this.meanMs)))
  }
  emit(out: EdgeFact[]): void {
    out.push(this.make(this.rng, this.host, this.nextTs))
    this.nextTs += this.gap()
  }
}

/** A min-heap of streams by (nextTs, order): deterministic order for equal times. */
export class StreamHeap {
  private readonly a: FactStream[] = []

  private less(x: FactStream, y: FactStream): boolean {
    return x.nextTs < y.nextTs || (x.nextTs === y.nextTs && x.order < y.order)
  }

  push(s: FactStream): void {
    const a = this.a
    a.push(s)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(a[i], a[p])) break
      const t = a[i]
      a[i] = a[p]
      a[p] = t
      i = p
    }
  }

  peek(): FactStream | undefined {
    return this.a[0]
  }

  /** Re-establishes the order after the top stream's nextTs moved forward. */
  siftTop(): void {
    const a = this.a
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < a.length && this.less(a[l], a[m])) m = l
      if (r < a.length && this.less(a[r], a[m])) m = r
      if (m === i) return
      const t = a[i]
      a[i] = a[m]
      a[m] = t
      i = m
    }
  }
}

/** One-off facts (scenario lines, effect reports) kept sorted by ts; equal times keep insertion order. */
export class ScriptQueue {
  private readonly q: EdgeFact[] = []
  private head = 0

  get nextTs(): number {
    return this.head < this.q.length ? this.q[this.head].ts : Infinity
  }

  insert(f: EdgeFact): void {
    let lo = this.head
    let hi = this.q.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.q[mid].ts <= f.ts) lo = mid + 1
      else hi = mid
    }
    this.q.splice(lo, 0, f)
  }

  shift(): EdgeFact {
    const f = this.q[this.head++]
    if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q.splice(0, this.head)
      this.head = 0
    }
    return f
  }
}
