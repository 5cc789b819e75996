import { capRaw, defineDetector, Floor, flooredSpread, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface SpikeParams {
  /** Smoothing factor of the robust baseline mean and variance. */
  readonly alpha: number
  /**
   * |z| against the robust baseline from which a point is a spike (severity at least `high`), when it
   * also rose that much (in sd) from the point before it.
   */
  readonly threshold: number
  /** |z| from which a spike is at least `critical`. */
  readonly critical: number
  /** |z| (and rise from the point before) from which a point counts as one of the series' own outliers (the pattern memory). */
  readonly notable: number
  /**
   * Outliers remembered (`notable` or more, a count halving every `halfLife` points) past which
   * spikes are the series' routine: once more than `learn - 1` are remembered, a spike is news
   * only when it is at least `ratio` x the largest one remembered. The first `learn` always are.
   */
  readonly learn: number
  readonly ratio: number
  readonly halfLife: number
  /** Points learned before a spike may be reported (outliers are remembered from the start). */
  readonly warmup: number
  readonly minSpread: number
  readonly relSpread: number
}

export interface SpikeState {
  /** Points learned into the baseline. */
  n: number
  mean: number
  variance: number
  /** The last points, not yet learned (oldest first): whether they start a run is not known yet. */
  pending: number[]
  /** Signed z of the previous point (0 before the baseline is formed). */
  prev: number
  /** Pattern memory: decaying count and largest |z| of the isolated outliers seen. */
  seen: number
  peak: number
  /** The baseline from before the last level shift (sd 0: none), for `calmLeft` more points. */
  calmMean: number
  calmSd: number
  calmLeft: number
}

/** Points before the baseline is trusted at all (outliers are counted, learning is robust, from here). */
const FORMED = 30
/** Residuals of points that are not part of a run are clipped to this many sd when learned (winsorised). */
const CLIP = 3
/** Points a value waits before it is learned: then it is known whether it started a run. */
const LAG = 2

/**
 * Isolated spikes: one point far from a robust EWMA baseline and as far from the point before
 * it (a run of far points is a level shift: the `shift` detector's business). Only news speaks:
 * the statistic is the point's |z| when it is a spike worth reporting, 0 otherwise, and a spike
 * claims a severity floor (`high`, `critical` from `critical` sd) that the ensemble honours
 * whatever self-calibration did, so the second and third spike of a series are reported too.
 *
 * Robust: each point is learned `LAG` points late. A point that turned out to start a run (it
 * and the next two all beyond 3 sd, on one side) is learned in full, so after a level shift the
 * baseline widens and moves and the detector falls quiet (nothing on the way back either);
 * any other point is learned with its residual clipped at 3 sd, so a spike, or a burst of two,
 * leaves the baseline as it was for the points after it.
 *
 * Pattern: isolated outliers of `notable` sd or more are remembered (a count and the largest,
 * halving every `halfLife` points), from the 30th point on, during the warm-up too. A series
 * that spikes by nature (disk latency) has shown several before its warm-up ends and is not
 * reported for spikes of its usual size; a spike `ratio` x larger than any remembered still is.
 */
export function spikeDetector(p: SpikeParams): Detector<SpikeState> {
  const { alpha, threshold, critical, notable, learn, ratio, warmup, minSpread, relSpread } = p
  const decay = Math.pow(0.5, 1 / Math.max(1, p.halfLife))
  const routine = learn - 1
  const learnPoint = (s: SpikeState, v: number, full: boolean, lim: number): void => {
    if (s.n === 0) {
      s.mean = v
      s.variance = 0
      s.n = 1
      return
    }
    // running average until 1/n falls below alpha: unbiased early estimates
    const a = s.n < 1 / alpha ? 1 / (s.n + 1) : alpha
    let diff = v - s.mean
    if (!full && s.n >= FORMED) {
      if (diff > lim) diff = lim
      else if (diff < -lim) diff = -lim
    }
    const incr = a * diff
    s.mean += incr
    s.variance = (1 - a) * (s.variance + diff * incr)
    if (!(s.variance < 1e300)) s.variance = 1e300
    s.n++
  }
  return defineDetector(
    'spike',
    (): SpikeState => ({ n: 0, mean: 0, variance: 0, pending: [], prev: 0, seen: 0, peak: 0, calmMean: 0, calmSd: 0, calmLeft: 0 }),
    (s: SpikeState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      const mean = s.mean
      const measured = Math.sqrt(s.variance)
      const sd = flooredSpread(measured, mean, minSpread, relSpread)
      const diff = x - mean
      const dir = diff > 0 ? 1 : diff < 0 ? -1 : 0
      const formed = s.n >= FORMED
      const z = formed ? capRaw((diff < 0 ? -diff : diff) / sd) : 0
      // how far this point rose from the previous one, in sd, in its own direction
      const rise = z - s.prev * dir
      // the pattern memory fades (flushed to 0 once negligible: no denormals on long runs)
      s.seen = s.seen > 1e-6 ? s.seen * decay : 0
      s.peak = s.peak > 1e-6 ? s.peak * decay : 0
      // a spike: news unless the series has shown several outliers of this size recently...
      let news = z >= thr && rise >= thr && s.n >= warmup && (s.seen <= routine || z >= ratio * s.peak)
      let back = false
      if (s.calmLeft > 0 && --s.calmLeft === 0) s.calmSd = 0
      if (z >= notable && s.calmSd > 0) {
        // ...or a return to the level the series had before a recent shift (no outlier either)
        const off = x - s.calmMean
        if ((off < 0 ? -off : off) <= notable * s.calmSd) {
          back = true
          news = false
          s.calmSd = 0
          s.calmLeft = 0
        }
      }
      if (news || (z >= notable && rise >= notable && !back)) {
        s.seen += 1
        if (z > s.peak) s.peak = z
      }
      s.prev = dir * z
      out.raw = news ? z : 0
      out.threshold = thr
      out.score = news ? scoreOf(z, thr) : 0
      out.centre = mean
      out.spread = sd
      out.direction = news ? dir : 0
      out.anomaly = news
      out.floor = news ? (z >= critical * scale ? Floor.Critical : Floor.High) : Floor.None
      // learn the oldest pending point: in full when it started a run, clipped otherwise
      const pending = s.pending
      pending.push(x)
      if (pending.length > LAG) {
        const v = pending.shift() as number
        const lim = CLIP * sd
        const d0 = v - mean
        let run = d0 > lim || d0 < -lim
        for (let i = 0; run && i < pending.length; i++) {
          const d = pending[i] - mean
          run = d0 > 0 ? d > lim : d < -lim
        }
        if (run && s.calmSd === 0 && s.n >= FORMED) {
          // a level shift: remember where the series was, so that its return is no spike
          s.calmMean = mean
          s.calmSd = sd
          s.calmLeft = p.halfLife
        }
        // a (near-)constant series has no sd to clip at: its first departure is learned in full
        learnPoint(s, v, run || measured < sd, lim)
      }
    },
  )
}
