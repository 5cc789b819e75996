import { capRaw, defineDetector, flooredSpread, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface MadParams {
  /** Number of most recent points forming the baseline. */
  readonly window: number
  /** Robust z (distance from the median in 1.4826 x MAD units) at which a point is anomalous. */
  readonly threshold: number
  /** Points in the window before the detector may flag. */
  readonly warmup: number
  readonly minSpread: number
  readonly relSpread: number
}

export interface MadState {
  n: number
  /** Ring buffer of the last `window` values, in arrival order (plain arrays: JSON). */
  buf: number[]
  head: number
  filled: number
  /** The same values, kept sorted ascending (first `filled` entries). */
  sorted: number[]
}

/** Consistency constant: 1.4826 x MAD estimates the standard deviation of normal data. */
const MAD_TO_SD = 1.4826

/** First index in a[0..n) whose value is >= x. */
function lowerBound(a: number[], n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid] < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** k-th smallest (0-based) of |a_i - m| over sorted a[0..n), by merging outwards from m. */
function kthDeviation(a: number[], n: number, m: number, k: number): number {
  let r = lowerBound(a, n, m)
  let l = r - 1
  let d = 0
  for (let step = 0; step <= k; step++) {
    const dl = l >= 0 ? m - a[l] : Infinity
    const dr = r < n ? a[r] - m : Infinity
    if (dl <= dr) {
      d = dl
      l--
    } else {
      d = dr
      r++
    }
  }
  return d
}

function medianSorted(a: number[], n: number): number {
  const mid = n >>> 1
  return n & 1 ? a[mid] : (a[mid - 1] + a[mid]) / 2
}

/**
 * Robust median/MAD over a sliding window: the baseline ignores outliers in the window, so a
 * burst of spikes does not hide the next one the way it inflates an EWMA variance. The window
 * is kept sorted (binary search + shift), so the median is O(1) and the MAD an O(window/2)
 * walk outwards from it: no copy, no allocation per point.
 */
export function madDetector(p: MadParams): Detector<MadState> {
  const { window, threshold, warmup, minSpread, relSpread } = p
  const minFill = Math.max(3, Math.min(warmup, window))
  return defineDetector(
    'mad',
    () => ({ n: 0, buf: new Array<number>(window).fill(0), head: 0, filled: 0, sorted: new Array<number>(window).fill(0) }),
    (s: MadState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      const n = s.filled
      const a = s.sorted
      if (n >= minFill) {
        const med = medianSorted(a, n)
        const half = n >>> 1
        const mad = n & 1 ? kthDeviation(a, n, med, half) : (kthDeviation(a, n, med, half - 1) + kthDeviation(a, n, med, half)) / 2
        const sd = flooredSpread(MAD_TO_SD * mad, med, minSpread, relSpread)
        const diff = x - med
        const z = capRaw((diff < 0 ? -diff : diff) / sd)
        out.raw = z
        out.threshold = thr
        out.score = scoreOf(z, thr)
        out.centre = med
        out.spread = sd
        out.direction = diff > 0 ? 1 : diff < 0 ? -1 : 0
        out.anomaly = z >= thr
      } else {
        out.raw = 0
        out.threshold = thr
        out.score = 0
        out.centre = x
        out.spread = flooredSpread(0, x, minSpread, relSpread)
        out.direction = 0
        out.anomaly = false
      }
      let len = n
      if (n === window) {
        // drop the oldest value from the sorted copy
        const old = s.buf[s.head]
        for (let i = lowerBound(a, len, old); i < len - 1; i++) a[i] = a[i + 1]
        len--
      }
      let i = len
      while (i > 0 && a[i - 1] > x) {
        a[i] = a[i - 1]
        i--
      }
      a[i] = x
      s.buf[s.head] = x
      s.head = s.head + 1 === window ? 0 : s.head + 1
      if (s.filled < window) s.filled++
      s.n++
    },
  )
}
