import { capRaw, defineDetector, flooredSpread, saturate, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface ShiftParams {
  /** Smoothing factor of the baseline mean and variance (small: a slow baseline). */
  readonly alpha: number
  /** Sustained z (the smallest |z| of the last `confirm` points, all on one side) at which a shift is anomalous. */
  readonly threshold: number
  /** Consecutive points that must all sit beyond the baseline, on the same side (1 = a plain z-score). */
  readonly confirm: number
  /**
   * Sustained z from which the shift is extreme: its score is then at least that of 4x a
   * threshold of `extreme / 4` (>= 0.941, and at least the critical cut-off in an ensemble),
   * whatever self-calibration or drift boosts did to the threshold in force. 0 = no such floor.
   */
  readonly extreme: number
  /** Points learned before the detector may flag. */
  readonly warmup: number
  readonly minSpread: number
  readonly relSpread: number
}

export interface ShiftState {
  /** Points learned into the baseline. */
  n: number
  mean: number
  variance: number
  /** The last `confirm - 1` points, not yet learned (oldest first): the candidate shift. */
  pending: number[]
}

/**
 * Level shift ("jump") detector: a point is compared with an EWMA baseline that has not yet
 * learned the `confirm - 1` points before it, and the statistic is the smallest distance, in
 * baseline standard deviations, of those points and this one, when all lie on the same side.
 * One spike on a spiky series scores nothing (its neighbours are ordinary); a series that
 * jumps and stays there scores the size of the jump on its `confirm`-th point, before the
 * baseline has learned any of it.
 *
 * Points older than the candidate window are learned, shifted ones included: after a shift
 * the baseline variance widens at once and the detector falls quiet while the mean moves to
 * the new level (a shift is reported on a point or two, not on every point after it). The
 * baseline sd is the EWMA of all learned points, spikes included, so a series that is spiky by
 * nature has a wide baseline. The price: for ~1/alpha points after a large episode the
 * baseline stays wide, so a repeat soon after it is measured against that wider spread.
 */
export function shiftDetector(p: ShiftParams): Detector<ShiftState> {
  const { alpha, threshold, warmup, minSpread, relSpread, extreme } = p
  const lag = Math.max(0, Math.floor(p.confirm) - 1)
  const learn = (s: ShiftState, x: number): void => {
    if (s.n === 0) {
      s.mean = x
      s.variance = 0
      s.n = 1
      return
    }
    // running average until 1/n falls below alpha: unbiased early estimates
    const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
    const diff = x - s.mean
    const incr = a * diff
    s.mean += incr
    s.variance = (1 - a) * (s.variance + diff * incr)
    if (!(s.variance < 1e300)) s.variance = 1e300
    s.n++
  }
  const det = defineDetector('shift', (): ShiftState => ({ n: 0, mean: 0, variance: 0, pending: [] }), (s: ShiftState, point: Point, out: Reading, scale: number) => {
    const x = point.value
    const thr = threshold * scale
    const pending = s.pending
    const mean = s.mean
    const sd = flooredSpread(Math.sqrt(s.variance), mean, minSpread, relSpread)
    const ready = s.n >= warmup && s.n > 0 && pending.length === lag
    let raw = 0
    let dir = 0
    if (ready) {
      // smallest signed distance on the side of the current point; 0 as soon as one point is not beyond
      const diff = x - mean
      dir = diff > 0 ? 1 : diff < 0 ? -1 : 0
      let m = dir * diff
      for (let i = 0; i < pending.length && m > 0; i++) {
        const d = dir * (pending[i] - mean)
        if (d < m) m = d
      }
      raw = m > 0 ? capRaw(m / sd) : 0
    }
    const score = scoreOf(raw, thr)
    const floor = saturate(raw, extreme)
    out.raw = raw
    out.threshold = thr
    out.score = floor > score ? floor : score
    out.centre = mean
    out.spread = sd
    out.direction = raw > 0 ? dir : 0
    out.anomaly = ready && (raw >= thr || floor > 0)
    // the oldest candidate point is old enough to be learned once `lag` newer ones wait behind it
    if (lag === 0) learn(s, x)
    else {
      pending.push(x)
      if (pending.length > lag) learn(s, pending.shift() as number)
    }
  })
  return Object.freeze({ ...det, extreme: extreme > 0 ? extreme : 0 })
}
