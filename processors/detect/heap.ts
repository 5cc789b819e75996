import { setFlagsFromString } from 'node:v8'

/**
 * How much V8 lets the JS heap grow past what survived the last full collection, in a process
 * whose detect state has grown large: 30 % (V8's own conservative factor, the one it uses under
 * memory pressure).
 *
 * Why: on a machine with a few GB, V8 lets the old generation grow up to 4x the live set
 * before it collects again. Detect's state is large and long-lived (about 4.7 KB a series in
 * the heap: 470 MB at 100,000 series), so that factor, not the state, set the peak RSS. With
 * 30 % the heap stays within about 1.3x the state; the cost is more frequent full collections
 * (bench:state reports the build's CPU). Not a cap: the heap may still grow as far as the state
 * needs.
 */
export const DETECT_HEAP_GROWTH_PERCENT = 30

/**
 * Live series (in one detect state) from which the bound applies. Below it the heap is small
 * and V8's default growth is kept: a small deployment has no peak to bound, so it need not pay
 * for more frequent full collections. (No latency gain was measured either way: bench:latency
 * bursty gave the same tail with and without the bound on fresh builds.) At 10,000 series
 * detect holds ~63 MB, so the limit V8 set before the bound (at most ~4x the live set) stays
 * far below what 100,000 series need, and every full collection after it uses the 30 %
 * (100,000 series: peak RSS 900 MB, bench:state).
 */
export const DETECT_HEAP_BOUND_SERIES = 10_000

let bounded = false

/**
 * Bounds the heap growth of this process (V8 flags are per process: every thread, every
 * stage), from the next full collection on. Once; an operator's own `--heap-growing-percent`
 * (node's command line or NODE_OPTIONS) is left as it is.
 */
export function boundHeapGrowth(): void {
  if (bounded) return
  bounded = true
  const own = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /heap[-_]growing[-_]percent/.test(a))
  if (!own) setFlagsFromString(`--heap-growing-percent=${DETECT_HEAP_GROWTH_PERCENT}`)
}

/** A detect state now holds `series` live series: past DETECT_HEAP_BOUND_SERIES, the heap's growth is bounded. */
export function noteLiveSeries(series: number): void {
  if (series >= DETECT_HEAP_BOUND_SERIES && !bounded) boundHeapGrowth()
}

/** Whether this process bounded its heap growth (a test, a bench). */
export function heapGrowthBounded(): boolean {
  return bounded
}

/** This process keeps V8's default growth whatever detect holds (a bench's baseline). */
export function keepDefaultHeapGrowth(): void {
  bounded = true
}
