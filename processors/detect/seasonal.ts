import { capRaw, defineDetector, flooredSpread, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface SeasonalParams {
  /** Length of one season in ms (e.g. a day: 86 400 000). */
  readonly periodMs: number
  /** Number of slots a season is cut into (a day of 5-minute samples: 288). */
  readonly slots: number
  /** Smoothing of the level (deseasonalised mean). */
  readonly alpha: number
  /** Smoothing of each slot's seasonal offset. */
  readonly gamma: number
  /** Smoothing of the residual variance. */
  readonly beta: number
  /** Residual z at which a point is anomalous. */
  readonly threshold: number
  /** Whole seasons learned before the detector may flag. */
  readonly minSeasons: number
  readonly minSpread: number
  readonly relSpread: number
}

export interface SeasonalState {
  n: number
  firstTs: number
  level: number
  variance: number
  /** Additive seasonal offset per slot, and how many points each slot has learned. */
  season: number[]
  seen: number[]
}

/**
 * Seasonal baseline, additive Holt-Winters without trend: expected = level + season[slot of ts].
 * The slot comes from the event time (ts mod period), so gaps and jitter in sampling do not
 * shift the season. The residual is standardised by an EWMA of residual variance. A pattern
 * that repeats every period is learned and stops scoring; a value unusual for its time of
 * period scores high even when it would be ordinary at another time.
 */
export function seasonalDetector(p: SeasonalParams): Detector<SeasonalState> {
  const { periodMs, slots, alpha, gamma, beta, threshold, minSeasons, minSpread, relSpread } = p
  const slotMs = periodMs / slots
  return defineDetector(
    'seasonal',
    () => ({ n: 0, firstTs: 0, level: 0, variance: 0, season: new Array<number>(slots).fill(0), seen: new Array<number>(slots).fill(0) }),
    (s: SeasonalState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      const ts = point.ts
      const thr = threshold * scale
      let slot = Math.floor((((ts % periodMs) + periodMs) % periodMs) / slotMs)
      if (!(slot >= 0 && slot < slots)) slot = 0
      if (s.n === 0) {
        s.firstTs = ts
        s.level = x
      }
      const seen = s.seen[slot]
      const expected = s.level + s.season[slot]
      const sd = flooredSpread(Math.sqrt(s.variance), expected, minSpread, relSpread)
      const diff = x - expected
      const ready = seen > 0 && ts - s.firstTs >= minSeasons * periodMs
      const z = ready ? capRaw((diff < 0 ? -diff : diff) / sd) : 0
      out.raw = z
      out.threshold = thr
      out.score = scoreOf(z, thr)
      out.centre = expected
      out.spread = sd
      out.direction = ready ? (diff > 0 ? 1 : diff < 0 ? -1 : 0) : 0
      out.anomaly = ready && z >= thr
      if (seen > 0) {
        s.variance = (1 - beta) * s.variance + beta * diff * diff
        if (!(s.variance < 1e300)) s.variance = 1e300
        s.level += alpha * (x - s.season[slot] - s.level)
        s.season[slot] += gamma * (x - s.level - s.season[slot])
      } else {
        s.season[slot] = x - s.level
      }
      if (seen < 1e9) s.seen[slot] = seen + 1
      s.n++
    },
  )
}
