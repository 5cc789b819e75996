import { capRaw, defineDetector, firstReading, flooredSpread, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface CusumParams {
  /** Smoothing factor of the in-control mean and variance (small: a slow baseline). */
  readonly alpha: number
  /** Slack per point, in standard deviations (half the smallest shift worth detecting). */
  readonly k: number
  /** Decision limit of either cumulative sum, in standard deviations. */
  readonly h: number
  /** Each standardised residual is clipped to ±clip, so one spike alone cannot trip the limit. */
  readonly clip: number
  readonly warmup: number
  readonly minSpread: number
  readonly relSpread: number
}

export interface CusumState {
  n: number
  mean: number
  variance: number
  /** Upper and lower cumulative sums. */
  pos: number
  neg: number
}

/**
 * Two-sided tabular CUSUM on residuals standardised by a slow EWMA baseline. It finds level
 * shifts too small for a z-score to see. On an alarm both sums restart at 0 and the baseline
 * mean moves to the new level, so a shift is reported once, not on every following point.
 */
export function cusumDetector(p: CusumParams): Detector<CusumState> {
  const { alpha, k, h, clip, warmup, minSpread, relSpread } = p
  return defineDetector(
    'cusum',
    () => ({ n: 0, mean: 0, variance: 0, pos: 0, neg: 0 }),
    (s: CusumState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = h * scale
      if (s.n === 0) {
        s.n = 1
        s.mean = x
        firstReading(out, x, thr, minSpread, relSpread)
        return
      }
      const mean = s.mean
      const sd = flooredSpread(Math.sqrt(s.variance), mean, minSpread, relSpread)
      const diff = x - mean
      let u = diff / sd
      if (u > clip) u = clip
      else if (u < -clip) u = -clip
      const ready = s.n >= warmup
      let pos = s.pos + u - k
      let neg = s.neg - u - k
      if (pos < 0) pos = 0
      if (neg < 0) neg = 0
      if (!ready) pos = neg = 0
      const raw = capRaw(pos > neg ? pos : neg)
      out.raw = raw
      out.threshold = thr
      out.score = scoreOf(raw, thr)
      out.centre = mean
      out.spread = sd
      out.direction = pos > neg ? 1 : neg > pos ? -1 : 0
      out.anomaly = ready && raw >= thr
      // running average until 1/n falls below alpha: unbiased early estimates
      const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
      const incr = a * diff
      s.variance = (1 - a) * (s.variance + diff * incr)
      if (!(s.variance < 1e300)) s.variance = 1e300
      if (out.anomaly) {
        s.pos = 0
        s.neg = 0
        s.mean = x
      } else {
        s.pos = pos
        s.neg = neg
        s.mean = mean + incr
      }
      s.n++
    },
  )
}
