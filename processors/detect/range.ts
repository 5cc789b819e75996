import { capRaw, defineDetector, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface RangeParams {
  /**
   * How far past the series' own range a point must go to be anomalous, as a fraction of that
   * range (0.05: 5 % of the span between the highest and the lowest value it has shown).
   */
  readonly threshold: number
  /**
   * Half-life, in points, of the memory of an extreme: the remembered highest and lowest values
   * fall back towards the running mean by half in this many points, so a series that calmed down
   * long ago is judged by what it does now.
   */
  readonly halfLife: number
  /** Smoothing of the running mean the extremes decay towards. */
  readonly alpha: number
  /** Points learned before the detector may flag (the range must be seen first). */
  readonly warmup: number
  /**
   * A record counts only when the point is also this many standard deviations from the running
   * mean: records of a noisy series that is merely young, or slowly climbing, are small in sd.
   */
  readonly minZ: number
  /**
   * Event time (ms) the series must have been seen for before a record counts, on top of
   * `warmup` points (0: none). A series' range is only known once it has shown a whole daily
   * cycle: a series sampled every second has made thousands of points by its first evening.
   */
  readonly minAge?: number
}

export interface RangeState {
  n: number
  mean: number
  hi: number
  lo: number
  /** Running variance around `mean` (same smoothing). */
  variance: number
  /** Event time of the first point. */
  t0: number
}

/**
 * New records ("beyond anything this series has shown"): the statistic is how far a point lies
 * above the highest value the series has shown, or below its lowest, in units of the span
 * between them. It is calibrated by construction: the same 5 % means the same on a CPU
 * percentage, a byte counter or a request rate, on a quiet series or a noisy one, because the
 * yardstick is the series' own range. The remembered extremes decay slowly towards the
 * running mean (`halfLife`), so an old excursion does not mask new ones forever.
 *
 * A point that sets a record widens the range at once, so a series creeping upwards sets only
 * tiny records (small statistics), and one that jumps far past its range scores once, on the
 * jump. O(1) state: four numbers.
 */
export function rangeDetector(p: RangeParams): Detector<RangeState> {
  const { threshold, alpha, warmup, minZ } = p
  const minAge = p.minAge ?? 0
  const decay = 1 - Math.pow(0.5, 1 / Math.max(1, p.halfLife))
  const det = defineDetector(
    'range',
    (): RangeState => ({ n: 0, mean: 0, hi: 0, lo: 0, variance: 0, t0: 0 }),
    (s: RangeState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      if (s.n === 0) {
        s.t0 = point.ts
        s.mean = x
        s.hi = x
        s.lo = x
      }
      const m = s.mean
      const absMean = m < 0 ? -m : m
      let span = s.hi - s.lo
      const floor = absMean * 1e-3 > 1e-9 ? absMean * 1e-3 : 1e-9
      if (span < floor) span = floor
      const dev = x - m
      const ready = s.n >= warmup && (minAge === 0 || point.ts - s.t0 >= minAge) && dev * dev >= minZ * minZ * s.variance
      let raw = 0
      let dir = 0
      if (ready) {
        if (x > s.hi) {
          raw = capRaw((x - s.hi) / span)
          dir = 1
        } else if (x < s.lo) {
          raw = capRaw((s.lo - x) / span)
          dir = -1
        }
      }
      out.raw = raw
      out.threshold = thr
      out.score = scoreOf(raw, thr)
      out.centre = (s.hi + s.lo) / 2
      out.spread = span / 2
      out.direction = dir
      out.anomaly = ready && raw >= thr
      const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
      const incr = a * dev
      const mean = m + incr
      s.mean = mean
      s.variance = (1 - a) * (s.variance + dev * incr)
      if (!(s.variance < 1e300)) s.variance = 1e300
      s.hi = x > s.hi ? x : s.hi - (s.hi - mean) * decay
      s.lo = x < s.lo ? x : s.lo + (mean - s.lo) * decay
      s.n++
    },
  )
  return Object.freeze({ ...det, selfCalibrated: true })
}
