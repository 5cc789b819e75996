import { defineDetector, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface FlatParams {
  /**
   * How many times longer than the longest run of repeated values the series has shown a new
   * run must be to be anomalous (2: twice as long as ever before).
   */
  readonly threshold: number
  /** Runs shorter than this many points are never news (a series that never repeats a value). */
  readonly minRun: number
  /** Half-life, in points, of the memory of the longest run. */
  readonly halfLife: number
  /** Value changes the series must have shown before flatness can be news (a constant series is just constant). */
  readonly warmup: number
}

export interface FlatState {
  n: number
  prev: number
  /** Points in the current run of identical values (0: the last point differed from the one before). */
  run: number
  /** Longest run seen before the current one, decaying. */
  longest: number
  /** Value changes seen (capped at `warmup`). */
  changes: number
  /** 1 once the current run has been reported: a stuck series is reported once, not on every point. */
  told: number
}

/**
 * Stuck values: a metric that stops moving (a sensor that repeats its last reading, a counter
 * that stops counting, a disk that stops writing). The statistic is the length of the current
 * run of identical values divided by the longest run this series has shown before (at least
 * `minRun`), reported once per run, on the point where it passes `threshold` x that length. A
 * series that is flat by nature (a constant, or one that rests at 0 for hours every day) has
 * shown long runs already and stays quiet. O(1) state.
 */
export function flatDetector(p: FlatParams): Detector<FlatState> {
  const { threshold, minRun, warmup } = p
  const decay = Math.pow(0.5, 1 / Math.max(1, p.halfLife))
  const det = defineDetector(
    'flat',
    (): FlatState => ({ n: 0, prev: 0, run: 0, longest: 0, changes: 0, told: 0 }),
    (s: FlatState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const thr = threshold * scale
      if (s.n > 0 && x === s.prev) s.run++
      else {
        if (s.run > s.longest) s.longest = s.run
        if (s.n > 0 && s.changes < warmup) s.changes++
        s.run = 0
        s.told = 0
      }
      s.longest *= decay
      const yardstick = s.longest > minRun ? s.longest : minRun
      const ratio = s.run / yardstick
      let raw = 0
      if (s.told === 0 && s.changes >= warmup && ratio >= thr) {
        raw = ratio
        s.told = 1
      }
      out.raw = raw
      out.threshold = thr
      out.score = scoreOf(raw, thr)
      out.centre = x
      out.spread = yardstick
      out.direction = 0
      out.anomaly = raw > 0
      s.prev = x
      s.n++
    },
  )
  return Object.freeze({ ...det, selfCalibrated: true })
}
