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
  /**
   * After an extreme shift the calm baseline from before it is kept; once the series is back
   * within `settle` of its sd, a new jump is also measured against it (see below). 0 = off.
   */
  readonly settle: number
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
  /** 0: no extreme episode in memory; 1: away (shifted); 2: back at the calm level; 3: a repeat was reported. */
  episode: number
  /** The calm baseline from before the last extreme shift. */
  calmMean: number
  calmVariance: number
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
 * nature has a wide baseline.
 *
 * The price of learning an episode: for ~1/alpha points after it the baseline stays wide. So
 * an extreme shift also keeps the calm baseline from before it; when the series is back within
 * `settle` calm sd of the calm mean, a new jump is measured against the calm baseline too, and
 * an extreme repeat (a runaway that comes back) is seen at its true size. That is done for one
 * repeat: a series that keeps jumping between two levels (a daily square wave) has a pattern,
 * which the learning baseline and self-calibration judge. The calm baseline is dropped once the
 * learning baseline is narrow again (sd within 2x the calm sd), and the next extreme shift
 * starts a new episode.
 */
export function shiftDetector(p: ShiftParams): Detector<ShiftState> {
  const { alpha, threshold, warmup, minSpread, relSpread, extreme, settle } = p
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
  // smallest distance of the pending points and x from a baseline, in its sd, when all are on x's side
  let lastDir = 0
  const sustained = (x: number, pending: readonly number[], mean: number, sd: number): number => {
    const diff = x - mean
    const dir = diff > 0 ? 1 : diff < 0 ? -1 : 0
    lastDir = dir
    let m = dir * diff
    for (let i = 0; i < pending.length && m > 0; i++) {
      const d = dir * (pending[i] - mean)
      if (d < m) m = d
    }
    return m > 0 ? capRaw(m / sd) : 0
  }
  const det = defineDetector(
    'shift',
    (): ShiftState => ({ n: 0, mean: 0, variance: 0, pending: [], episode: 0, calmMean: 0, calmVariance: 0 }),
    (s: ShiftState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      const pending = s.pending
      const mean = s.mean
      const sd = flooredSpread(Math.sqrt(s.variance), mean, minSpread, relSpread)
      const ready = s.n >= warmup && s.n > 0 && pending.length === lag
      let raw = 0
      let dir = 0
      let centre = mean
      let spread = sd
      if (ready) {
        raw = sustained(x, pending, mean, sd)
        dir = lastDir
      }
      if (s.episode !== 0) {
        const calmSd = flooredSpread(Math.sqrt(s.calmVariance), s.calmMean, minSpread, relSpread)
        if (sd <= 2 * calmSd)
          s.episode = 0 // the learning baseline is calm again: it is enough
        else if (s.episode === 1) {
          const off = x - s.calmMean
          if ((off < 0 ? -off : off) <= settle * calmSd) s.episode = 2
        } else if (s.episode === 2 && ready) {
          const calmRaw = sustained(x, pending, s.calmMean, calmSd)
          if (calmRaw >= extreme && calmRaw > raw) {
            raw = calmRaw
            dir = lastDir
            centre = s.calmMean
            spread = calmSd
            // one repeat is news; a series that keeps jumping between two levels has a pattern
            s.episode = 3
          }
        }
      }
      if (s.episode === 0 && extreme > 0 && raw >= extreme && settle > 0) {
        // an extreme shift: remember the calm baseline it left
        s.calmMean = mean
        s.calmVariance = s.variance
        s.episode = 1
      }
      const score = scoreOf(raw, thr)
      const floor = saturate(raw, extreme)
      out.raw = raw
      out.threshold = thr
      out.score = floor > score ? floor : score
      out.centre = centre
      out.spread = spread
      out.direction = raw > 0 ? dir : 0
      out.anomaly = ready && (raw >= thr || floor > 0)
      // the oldest candidate point is old enough to be learned once `lag` newer ones wait behind it
      if (lag === 0) learn(s, x)
      else {
        pending.push(x)
        if (pending.length > lag) learn(s, pending.shift() as number)
      }
    },
  )
  return Object.freeze({ ...det, extreme: extreme > 0 ? extreme : 0 })
}
