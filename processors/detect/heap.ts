import { setFlagsFromString } from 'node:v8'

/**
 * How much V8 lets the JS heap grow past what survived the last full collection, in a process
 * that holds detect state: 30 % (V8's own conservative factor, the one it uses under memory
 * pressure).
 *
 * Why: on a machine with a few GB, V8 lets the old generation grow up to 4x the live set
 * before it collects again. Detect's state is large and long-lived (about 4.7 KB a series in
 * the heap: 470 MB at 100,000 series), so that factor, not the state, set the peak RSS. With
 * 30 % the heap stays within about 1.3x the state; the cost is more frequent full collections
 * while the state grows (bench:state reports the build's CPU). Not a cap: the heap may still
 * grow as far as the state needs.
 */
export const DETECT_HEAP_GROWTH_PERCENT = 30

let bounded = false

/**
 * Bounds the heap growth of this process (V8 flags are per process: every thread, every
 * stage). Once; an operator's own `--heap-growing-percent` (node's command line or
 * NODE_OPTIONS) is left as it is.
 */
export function boundHeapGrowth(): void {
  if (bounded) return
  bounded = true
  const own = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /heap[-_]growing[-_]percent/.test(a))
  if (!own) setFlagsFromString(`--heap-growing-percent=${DETECT_HEAP_GROWTH_PERCENT}`)
}
