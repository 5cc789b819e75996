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
  /** Additive seasonal offset per slot. */
  season: number[]
  /**
   * Which slots have learned a point: a bitset, `SEEN_BITS` slots per element (small integers, so
   * V8 keeps them unboxed). A slot's count was only ever compared with 0; 4 numbers instead of a
   * number per slot (96 slots: ~80 B against ~800 B a series).
   */
  seenBits: number[]
}

/** Slots per element of `seenBits` (30: every element stays a small integer, also under pointer compression). */
export const SEEN_BITS = 30

const bitsFor = (slots: number): number[] => new Array<number>(Math.ceil(slots / SEEN_BITS)).fill(0)

/**
 * A seasonal state saved with a count per slot (`seen`, before the bitset), in the current form:
 * the same numbers from here on (only `seen > 0` was ever read). A new object with the current
 * key order (so it has the live state's shape); anything else is returned as it is.
 */
export function upgradeSeasonalState(old: unknown): unknown {
  if (old === null || typeof old !== 'object') return old
  const o = old as Record<string, unknown>
  if (!Array.isArray(o.season) || !Array.isArray(o.seen) || o.seenBits !== undefined) return old
  const seen = o.seen as unknown[]
  const seenBits = bitsFor(seen.length)
  for (let i = 0; i < seen.length; i++) if ((seen[i] as number) > 0) seenBits[(i / SEEN_BITS) | 0] |= 1 << (i % SEEN_BITS)
  const { seen: _seen, season, ...rest } = o
  return { ...rest, season, seenBits }
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
    () => ({ n: 0, firstTs: 0, level: 0, variance: 0, season: new Array<number>(slots).fill(0), seenBits: bitsFor(slots) }),
    (s: SeasonalState, point: Point, out: Reading, scale: number) => {
      // a state saved with a count per slot that did not come through a restore's revive: upgraded in place
      if (s.seenBits === undefined) {
        Object.assign(s, upgradeSeasonalState({ ...s }))
        delete (s as { seen?: unknown }).seen
        if (!Array.isArray(s.seenBits)) s.seenBits = bitsFor(slots)
      }
      const x = point.value
      const ts = point.ts
      const thr = threshold * scale
      let slot = Math.floor((((ts % periodMs) + periodMs) % periodMs) / slotMs)
      if (!(slot >= 0 && slot < slots)) slot = 0
      if (s.n === 0) {
        s.firstTs = ts
        s.level = x
      }
      const word = (slot / SEEN_BITS) | 0
      const bit = 1 << (slot % SEEN_BITS)
      const seen = (s.seenBits[word] & bit) !== 0
      const expected = s.level + s.season[slot]
      const sd = flooredSpread(Math.sqrt(s.variance), expected, minSpread, relSpread)
      const diff = x - expected
      const ready = seen && ts - s.firstTs >= minSeasons * periodMs
      const z = ready ? capRaw((diff < 0 ? -diff : diff) / sd) : 0
      out.raw = z
      out.threshold = thr
      out.score = scoreOf(z, thr)
      out.centre = expected
      out.spread = sd
      out.direction = ready ? (diff > 0 ? 1 : diff < 0 ? -1 : 0) : 0
      out.anomaly = ready && z >= thr
      if (seen) {
        s.variance = (1 - beta) * s.variance + beta * diff * diff
        if (!(s.variance < 1e300)) s.variance = 1e300
        s.level += alpha * (x - s.season[slot] - s.level)
        s.season[slot] += gamma * (x - s.level - s.season[slot])
      } else {
        s.season[slot] = x - s.level
        s.seenBits[word] |= bit
      }
      s.n++
    },
  )
}
