import { capRaw, defineDetector, firstReading, flooredSpread, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface EwmaParams {
  /** Smoothing factor of the mean and variance (0..1]; ~2/(N+1) for an N-point memory. */
  readonly alpha: number
  /** z-score at which a point is anomalous. */
  readonly threshold: number
  /** Points learned before the detector may flag. */
  readonly warmup: number
  /** Absolute and relative (x |mean|) floors of the standard deviation. */
  readonly minSpread: number
  readonly relSpread: number
}

export interface EwmaState {
  n: number
  mean: number
  variance: number
}

/**
 * EWMA z-score: distance of the point from an exponentially weighted mean, in exponentially
 * weighted standard deviations. The point is scored against the baseline *before* it is learned.
 */
export function ewmaDetector(p: EwmaParams): Detector<EwmaState> {
  const { alpha, threshold, warmup, minSpread, relSpread } = p
  return defineDetector(
    'ewma',
    () => ({ n: 0, mean: 0, variance: 0 }),
    (s: EwmaState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      if (s.n === 0) {
        s.n = 1
        s.mean = x
        s.variance = 0
        firstReading(out, x, thr, minSpread, relSpread)
        return
      }
      const mean = s.mean
      const sd = flooredSpread(Math.sqrt(s.variance), mean, minSpread, relSpread)
      const diff = x - mean
      const z = capRaw((diff < 0 ? -diff : diff) / sd)
      const ready = s.n >= warmup
      out.raw = ready ? z : 0
      out.threshold = thr
      out.score = ready ? scoreOf(z, thr) : 0
      out.centre = mean
      out.spread = sd
      out.direction = diff > 0 ? 1 : diff < 0 ? -1 : 0
      out.anomaly = ready && z >= thr
      // running average until 1/n falls below alpha: unbiased early estimates
      const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
      const incr = a * diff
      s.mean = mean + incr
      s.variance = (1 - a) * (s.variance + diff * incr)
      if (!(s.variance < 1e300)) s.variance = 1e300
      s.n++
    },
  )
}
