/**
 * The latency path's priority on a thread's event loop (issue 8).
 *
 * In `ben up` the stages (scrub → detect → policy → act), the seven ClickHouse projectors and
 * their consumers share one event loop. Each yields every few milliseconds, so a burst of 1,000
 * facts became a round-robin of ~12 participants' slices: a probe that arrived during it waited
 * for the projectors' row building and decoding of the same burst before scrub's next turn.
 *
 * The rule: while a stage of the latency path has inputs to apply (`enter` … `leave`), work that
 * nobody waits for in real time (a projector's decoding, row building and insert) waits — but
 * never for more than `maxDeferMs` at a time, after which it gets a slice of `sliceMs` that
 * nothing defers. So a projector keeps at least sliceMs / (sliceMs + maxDeferMs) of the thread
 * under a latency path that never goes idle, and all of it otherwise: it is delayed, never
 * starved. Nothing here changes what is computed, only the order of work on the thread.
 *
 * One `LatencyPath` per thread (module state: a worker thread has its own event loop and its own).
 */
export class LatencyPath {
  constructor(private readonly bounds: { readonly sliceMs?: number; readonly maxDeferMs?: number } = {}) {}

  /** Latency-path stages with inputs to apply. */
  private active = 0
  private waiters: Array<() => void> = []

  /** A latency-path stage has inputs to apply. */
  enter(): void {
    this.active++
  }

  /** …and has applied them all. */
  leave(): void {
    if (this.active === 0) return
    if (--this.active === 0 && this.waiters.length) for (const w of this.waiters.splice(0)) w()
  }

  get busy(): boolean {
    return this.active > 0
  }

  /** Resolves when the latency path is idle, or after `ms` (the bound on a deferral). */
  idle(ms: number): Promise<void> {
    if (this.active === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let done = false
      const go = () => {
        if (done) return
        done = true
        clearTimeout(t)
        resolve()
      }
      const t = setTimeout(go, ms)
      this.waiters.push(go)
    })
  }

  /** A participant of lower priority (a projector): see `Deferrable.turn`. */
  deferrable(): Deferrable {
    return new Deferrable(this, this.bounds.sliceMs ?? DEFERRED_SLICE_MS, this.bounds.maxDeferMs ?? MAX_DEFER_MS)
  }
}

/** Work of lower priority than the latency path, on the same thread. */
export class Deferrable {
  /** End of the slice granted after the last wait (performance.now()). */
  private until = 0
  /** Waits so far, and how many ended at the bound rather than at an idle latency path. */
  readonly stats = { deferred: 0, bounded: 0, deferredMs: 0 }

  constructor(
    private readonly path: LatencyPath,
    private readonly sliceMs: number,
    private readonly maxDeferMs: number,
  ) {}

  /**
   * Called before each piece of deferrable work: `undefined` to go on now (the latency path is
   * idle, or this participant's granted slice is not over), or a promise to await first (until
   * the latency path is idle, at most maxDeferMs; a slice of sliceMs is then granted).
   */
  turn(): Promise<void> | undefined {
    if (!this.path.busy) return undefined
    const now = performance.now()
    if (now < this.until) return undefined
    this.stats.deferred++
    return this.path.idle(this.maxDeferMs).then(() => {
      const t = performance.now()
      if (this.path.busy) this.stats.bounded++
      this.stats.deferredMs += t - now
      this.until = t + this.sliceMs
    })
  }
}

/** The longest a deferrable participant waits for the latency path at a time. */
export const MAX_DEFER_MS = 50
/** What it is then granted (a projector's slice, like a stage's). */
export const DEFERRED_SLICE_MS = 4

/** This thread's latency path. */
export const latencyPath = new LatencyPath()
