import { cusumDetector, type CusumParams } from './cusum.js'
import { emptyReading, saturate, scoreOf, type Detector, type DetectorName, type Point, type Reading } from './detector.js'
import { driftDetector, upgradeDriftState, type DriftParams } from './drift.js'
import { ewmaDetector, type EwmaParams } from './ewma.js'
import { madDetector, type MadParams } from './mad.js'
import { flatDetector, type FlatParams } from './flat.js'
import { levelDetector, type LevelParams } from './level.js'
import { rangeDetector, type RangeParams } from './range.js'
import { seasonalDetector, upgradeSeasonalState, type SeasonalParams } from './seasonal.js'
import { shiftDetector, type ShiftParams } from './shift.js'
import { spikeDetector, type SpikeParams } from './spike.js'

export const Combine = { Max: 'max', Mean: 'mean', NoisyOr: 'noisy_or' } as const
export type Combine = (typeof Combine)[keyof typeof Combine]

export interface EnsembleParams {
  /** How member scores (each x its weight) become one score. */
  readonly combine: Combine
  /** Combined score at which a point is an anomaly. */
  readonly threshold: number
  /** Points before the ensemble may flag at all. */
  readonly warmup: number
  /** After an anomaly, this many points cannot raise another one (same episode)... */
  readonly refractory: number
  /** ...and their scores are multiplied by this factor (1: scores untouched). */
  readonly refractoryDamp: number
  /**
   * Self-calibration of each member's threshold (0 = off): the threshold in force is at least
   * `calibrate` x the largest statistic the member reported recently (a running peak that
   * halves every `calibrateHalfLife` points). A series whose statistic routinely reaches 20
   * (noisy, spiky, quantised) then needs more than 20 x calibrate to be anomalous, while a quiet
   * one keeps its configured threshold: "anomalous" means "beyond what this series has shown".
   */
  readonly calibrate: number
  readonly calibrateHalfLife: number
  /**
   * Severity cut-off for `critical`: an extreme reading (a member's `extreme`, e.g. a shift of
   * 10 sigma) scores at least this much, so it is critical whatever the cut-offs. Absent: 0.
   */
  readonly critical?: number
  /** Severity cut-off for `high`: the floor of a reading that claims `Floor.High` (a spike). Absent: 0. */
  readonly high?: number
  /**
   * Severity cut-off for `medium`: members relative to the series' own history (`selfCalibrated`:
   * a new record, a stuck run) score just under it at most: on their own they are `low`. Absent: 0.
   */
  readonly medium?: number
}

/** Univariate member detectors with their weight; absent = disabled. */
export interface MemberParams {
  readonly ewma?: EwmaParams & { readonly weight: number }
  readonly cusum?: CusumParams & { readonly weight: number }
  readonly mad?: MadParams & { readonly weight: number }
  readonly seasonal?: SeasonalParams & { readonly weight: number }
  readonly shift?: ShiftParams & { readonly weight: number }
  readonly spike?: SpikeParams & { readonly weight: number }
  readonly range?: RangeParams & { readonly weight: number }
  readonly flat?: FlatParams & { readonly weight: number }
  readonly level?: LevelParams & { readonly weight: number }
  readonly drift?: DriftParams & { readonly weight: number }
}

export interface EnsembleState {
  n: number
  /** Threshold multiplier set by the drift detector, decaying back to 1. */
  scale: number
  /** Points left in the refractory period. */
  quiet: number
  /** Member states, in the order of `Ensemble.members`. */
  members: unknown[]
  /** Per member: running peak of its statistic, for self-calibration. */
  cal: number[]
}

export interface EnsembleReading {
  score: number
  anomaly: boolean
  /** Index of the member with the highest weighted score (-1 when none scored). */
  top: number
  /** Set when the drift member found drift on this point. */
  drift: boolean
  /** Threshold multiplier in force for this point. */
  scale: number
  /** One reading per member, reused across points. */
  readonly readings: Reading[]
}

export interface Ensemble {
  readonly members: readonly Detector<unknown>[]
  readonly names: readonly DetectorName[]
  readonly weights: readonly number[]
  readonly params: EnsembleParams
  /** The seasonal member's period (for sentences); a day when there is none. */
  readonly periodMs: number
  init(): EnsembleState
  /** In place: mutates `state`, fills `out`. */
  step(state: EnsembleState, point: Point, out: EnsembleReading): void
  newReading(): EnsembleReading
  /** A reading owned by this ensemble, reused by callers that step one point at a time. */
  readonly scratch: EnsembleReading
}

/**
 * An ensemble state read back from a checkpoint, in the current form of each member (a drift
 * state saved with its window as values gets its window as bins, a seasonal state saved with a count per
 * slot gets its bitset of learned slots). The same object when nothing
 * needed it; never throws on a state of unknown form (the member's step copes, or the settings
 * fingerprint resets it).
 */
export function reviveEnsembleState(ens: EnsembleState): EnsembleState {
  if (!ens || !Array.isArray(ens.members)) return ens
  for (let i = 0; i < ens.members.length; i++) ens.members[i] = upgradeSeasonalState(upgradeDriftState(ens.members[i]))
  return ens
}

/** Builds the detectors once (at config load); stepping a point allocates nothing. */
export function buildEnsemble(params: EnsembleParams, m: MemberParams): Ensemble {
  const members: Detector<unknown>[] = []
  const weights: number[] = []
  const add = <S>(d: Detector<S>, weight: number): void => {
    members.push(d as Detector<unknown>)
    weights.push(weight)
  }
  if (m.ewma) add(ewmaDetector(m.ewma), m.ewma.weight)
  if (m.cusum) add(cusumDetector(m.cusum), m.cusum.weight)
  if (m.mad) add(madDetector(m.mad), m.mad.weight)
  if (m.seasonal) add(seasonalDetector(m.seasonal), m.seasonal.weight)
  if (m.shift) add(shiftDetector(m.shift), m.shift.weight)
  if (m.spike) add(spikeDetector(m.spike), m.spike.weight)
  if (m.range) add(rangeDetector(m.range), m.range.weight)
  if (m.flat) add(flatDetector(m.flat), m.flat.weight)
  if (m.level) add(levelDetector(m.level), m.level.weight)
  const driftIndex = m.drift ? members.length : -1
  if (m.drift) add(driftDetector(m.drift), m.drift.weight)
  const boost = m.drift?.boost ?? 1
  const decay = m.drift ? Math.pow(0.5, 1 / Math.max(1, m.drift.halfLife)) : 1
  const names = members.map((d) => d.name)
  const extremes = members.map((d) => d.extreme ?? 0)
  const selfCalibrated = members.map((d) => d.selfCalibrated === true)
  const count = members.length
  const { combine, threshold, warmup, refractory, refractoryDamp, calibrate, calibrateHalfLife } = params
  const calDecay = Math.pow(0.5, 1 / Math.max(1, calibrateHalfLife))
  // the highest score a point in the refractory period may keep (just under the threshold)
  const below = threshold > 1e-6 ? threshold - 1e-6 : 0
  const critical = params.critical ?? 0
  const high = params.high ?? 0
  // a new record or a stuck run is `low` on its own: severity comes from the size of a deviation
  // measured in the series' own spread (spikes, shifts, seasonal residuals)
  const medium = params.medium ?? 0
  const selfCap = medium > threshold ? medium - 1e-6 : 1
  // their scores above the threshold are squeezed into [threshold, selfCap), not clipped: a
  // bigger record still scores higher (a 30σ jump past the range outranks a 3σ one)
  const squeeze = selfCap < 1 && threshold < 1 ? (selfCap - threshold) / (1 - threshold) : 1
  // score floors of the severities a reading may claim (at least the anomaly threshold)
  const claimed = [0, Math.max(high, threshold), Math.max(critical, high, threshold)]

  const newReading = (): EnsembleReading => ({ score: 0, anomaly: false, top: -1, drift: false, scale: 1, readings: members.map(() => emptyReading()) })
  return {
    members,
    names,
    scratch: newReading(),
    periodMs: m.seasonal?.periodMs ?? 86_400_000,
    weights,
    params,
    init: () => ({ n: 0, scale: 1, quiet: 0, members: members.map((d) => d.init()), cal: new Array<number>(count).fill(0) }),
    newReading,
    step(state, point, out) {
      const scale = state.scale
      let best = 0
      let top = -1
      let sum = 0
      let wsum = 0
      let none = 1
      let driftNow = false
      let sat = 0
      let satTop = -1
      for (let i = 0; i < count; i++) {
        const r = out.readings[i]
        members[i].step(state.members[i], point, r, i === driftIndex ? 1 : scale)
        const w = weights[i]
        if (i === driftIndex) {
          if (r.anomaly) driftNow = true
        } else if (calibrate > 0 && !selfCalibrated[i]) {
          const cal = state.cal
          const level = cal[i] * calibrate
          if (level > r.threshold) {
            r.threshold = level
            r.score = scoreOf(r.raw, level)
            if (r.raw < level) r.anomaly = false
          }
          const decayed = cal[i] * calDecay
          cal[i] = r.raw > decayed ? r.raw : decayed
        }
        // drift is a property of a window, not of this point: it takes part only where it is found
        if (w <= 0 || (i === driftIndex && !r.anomaly)) continue
        // an extreme reading keeps its floor whatever calibration, boosts or weights did;
        // so does a reading that claims a severity (an isolated spike)
        let floor = saturate(r.raw, extremes[i])
        if (floor > 0 && floor < critical) floor = critical
        if (r.floor !== 0 && claimed[r.floor] > floor) floor = claimed[r.floor]
        if (floor > 0) {
          if (floor > r.score) r.score = floor
          r.anomaly = true
          if (floor > sat) {
            sat = floor
            satTop = i
          }
        }
        if (selfCalibrated[i] && r.score > threshold) r.score = threshold + (r.score - threshold) * squeeze
        const ws = w * r.score
        if (ws > best) {
          best = ws
          top = i
        }
        sum += ws
        wsum += w
        none *= 1 - (ws > 1 ? 1 : ws)
      }
      let score = combine === 'max' ? best : combine === 'mean' ? (wsum > 0 ? sum / wsum : 0) : 1 - none
      if (score > 1) score = 1
      if (!(score >= 0)) score = 0
      state.n++
      const warm = state.n > warmup
      if (!warm) score = 0
      let anomaly = score >= threshold
      if (state.quiet > 0) {
        // the same episode: scores stay below the threshold, so that score >= threshold and
        // "an anomaly fact is emitted" are one and the same thing (ben detect's label column)
        state.quiet--
        score *= refractoryDamp
        if (score >= threshold) score = below
        anomaly = false
      }
      // extreme deviations saturate the score, refractory period or not
      if (warm && sat > 0 && sat >= score) {
        score = sat
        top = satTop
        anomaly = true
      }
      if (anomaly) state.quiet = refractory
      // drift recalibration: raise the thresholds of the other members, decaying back to 1
      let nextScale = 1 + (scale - 1) * decay
      if (driftNow && boost > nextScale) nextScale = boost
      state.scale = nextScale < 1.0001 ? 1 : nextScale
      out.score = score
      out.anomaly = anomaly
      out.top = top
      out.drift = driftNow
      out.scale = scale
    },
  }
}
