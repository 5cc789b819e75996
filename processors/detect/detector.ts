/**
 * The one detector contract. A detector is a pair of pure-by-contract functions over a plain
 * state (numbers, arrays, objects; a `Uint8Array`/`Uint16Array`/`Float64Array`/`Float32Array` where a
 * compact array is worth it, which the checkpoint codec and `cloneState` keep as such):
 *
 * - `update(state, point)` is the pure form: it never touches `state` and returns a new one
 *   together with the score (what the issue asks for, and what tests use);
 * - `step(state, point, out, scale)` is the hot-path form used by the ensemble and the stage:
 *   it mutates `state` in place and writes the reading into `out` (a reused scratch record), so
 *   a point costs no allocation. `update` is `step` applied to a deep copy.
 *
 * Both give the same numbers; `scale` multiplies the detector's configured threshold (the drift
 * detector's recalibration, 1 when no drift is in force).
 */

export const DetectorName = {
  Ewma: 'ewma',
  Cusum: 'cusum',
  Mad: 'mad',
  Seasonal: 'seasonal',
  Pca: 'pca',
  Drift: 'drift',
  Shift: 'shift',
  Spike: 'spike',
  Range: 'range',
  Flat: 'flat',
  Level: 'level',
} as const
export type DetectorName = (typeof DetectorName)[keyof typeof DetectorName]

/** One scalar sample of a series (event time in epoch ms). */
export interface Point {
  readonly ts: number
  readonly value: number
}

/** What a detector says about one point. Mutable: the hot path reuses one record per detector. */
export interface Reading {
  /** Score in [0, 1]; 0.5 means the raw statistic sits exactly at its threshold. */
  score: number
  /** Detector-native statistic (z, CUSUM sum, MAD distance, KL divergence, ...). */
  raw: number
  /** The raw threshold in force for this point (configured threshold x drift scale). */
  threshold: number
  /** Baseline the point was compared with. */
  centre: number
  spread: number
  /** +1 above the baseline, -1 below, 0 neither or not applicable. */
  direction: number
  /** True when `raw >= threshold` and the detector is warmed up. */
  anomaly: boolean
  /**
   * Severity this reading claims whatever self-calibration, drift boosts or weights say (see
   * `Floor`): the ensemble lifts the score to at least that cut-off. 0 for most detectors.
   */
  floor: Floor
}

/** Severity floors a reading can claim: none, at least the `high` cut-off, at least `critical`. */
export const Floor = { None: 0, High: 1, Critical: 2 } as const
export type Floor = (typeof Floor)[keyof typeof Floor]

export interface DetectorUpdate<S> extends Readonly<Reading> {
  readonly state: S
}

export interface Detector<S, P = Point> {
  readonly name: DetectorName
  /**
   * Raw statistic from which a reading is extreme (0 or absent: never): its score is then at
   * least `scoreOf(raw, extreme / 4)` (>= 0.941) whatever threshold is in force, so neither
   * self-calibration nor a drift boost can hide it. See `saturate`.
   */
  readonly extreme?: number
  /**
   * True when the statistic is already relative to the series' own history (the range
   * detector): the ensemble's self-calibration against the member's recent peak is skipped.
   */
  readonly selfCalibrated?: boolean
  /** A fresh state (plain JSON). */
  init(): S
  /** Pure: returns a new state; `state` is left untouched. */
  update(state: S, point: P, scale?: number): DetectorUpdate<S>
  /** In place: mutates `state`, writes into `out`. */
  step(state: S, point: P, out: Reading, scale: number): void
}

export const emptyReading = (): Reading => ({ score: 0, raw: 0, threshold: 0, centre: 0, spread: 0, direction: 0, anomaly: false, floor: Floor.None })

export function resetReading(out: Reading, threshold: number, centre: number, spread: number): void {
  out.score = 0
  out.raw = 0
  out.threshold = threshold
  out.centre = centre
  out.spread = spread
  out.direction = 0
  out.anomaly = false
  out.floor = Floor.None
}

/** Raw statistic → score in [0,1]: r²/(1+r²) with r = raw/threshold (0.5 at the threshold, 0.8 at 2x, 0.94 at 4x). */
export function scoreOf(raw: number, threshold: number): number {
  if (!(raw > 0)) return 0
  if (!(threshold > 0)) return 1
  const r = raw / threshold
  const r2 = r * r
  return r2 === Infinity ? 1 : r2 / (1 + r2)
}

/** Score floor of an extreme reading: as if `raw` were 4x (or more) a threshold of `extreme / 4`. */
export function saturate(raw: number, extreme: number): number {
  return extreme > 0 && raw >= extreme ? scoreOf(raw, extreme / 4) : 0
}

/** Largest statistic a detector reports: keeps state and facts finite whatever the input. */
export const RAW_CAP = 1e9

export function capRaw(x: number): number {
  return x > RAW_CAP ? RAW_CAP : x === x ? x : 0
}

/** Deep copy of a plain state (objects, arrays, typed arrays, numbers, strings, booleans, null). */
export function cloneState<S>(state: S): S {
  if (state === null || typeof state !== 'object') return state
  if (Array.isArray(state)) return state.map(cloneState) as S
  if (state instanceof Uint8Array || state instanceof Uint16Array || state instanceof Float64Array || state instanceof Float32Array) return state.slice() as S
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(state)) out[k] = cloneState((state as Record<string, unknown>)[k])
  return out as S
}

/** Builds a detector whose pure `update` is its in-place `step` on a copy. */
export function defineDetector<S, P = Point>(name: DetectorName, init: () => S, step: (state: S, point: P, out: Reading, scale: number) => void): Detector<S, P> {
  return {
    name,
    init,
    step,
    update(state, point, scale = 1) {
      const next = cloneState(state)
      const out = emptyReading()
      step(next, point, out, scale)
      return { state: next, ...out }
    },
  }
}

/** Spread used for standardising: never below the configured absolute or relative floor. */
export function flooredSpread(sd: number, centre: number, minSpread: number, relSpread: number): number {
  const rel = relSpread * (centre < 0 ? -centre : centre)
  let s = sd
  if (s < minSpread) s = minSpread
  if (s < rel) s = rel
  return s > 1e-12 ? s : 1e-12
}

/** A series' first point: nothing to compare it with yet, so a zero reading around it. */
export function firstReading(out: Reading, x: number, threshold: number, minSpread: number, relSpread: number): void {
  out.score = 0
  out.raw = 0
  out.threshold = threshold
  out.centre = x
  out.spread = flooredSpread(0, x, minSpread, relSpread)
  out.direction = 0
  out.anomaly = false
}
