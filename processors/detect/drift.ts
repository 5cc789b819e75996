import { capRaw, defineDetector, scoreOf, type Detector, type Point, type Reading } from './detector.js'

export interface DriftParams {
  /** Points in the reference and in the recent window. */
  readonly window: number
  /** Histogram bins between the reference's min and max (two overflow bins are added). */
  readonly bins: number
  /** KL divergence D(recent ‖ reference), in nats, at which the distribution has drifted. */
  readonly threshold: number
  /** KL is computed every `every` points. */
  readonly every: number
  /** Threshold multiplier applied to the other detectors when drift is found... */
  readonly boost: number
  /** ...decaying back to 1 with this half-life, in points. */
  readonly halfLife: number
}

export interface DriftState {
  n: number
  /** Ring buffer of the last `window` values. */
  buf: number[]
  head: number
  filled: number
  /** Histogram edges and counts: reference and recent (same edges). */
  lo: number
  hi: number
  ref: number[]
  cur: number[]
  /** 0 until the first reference exists. */
  ready: number
  /** Points left before the reference is rebuilt from a window wholly after the drift. */
  rebase: number
  sinceCheck: number
  kl: number
}

/** Laplace smoothing of bin probabilities. */
const SMOOTH = 0.5

function binOf(x: number, lo: number, hi: number, bins: number): number {
  if (x < lo) return 0
  if (x >= hi) return bins + 1
  const b = 1 + Math.floor(((x - lo) / (hi - lo)) * bins)
  return b > bins ? bins : b
}

/** Rebuilds edges and both histograms from the values in the ring buffer. */
function rebuild(s: DriftState, bins: number): void {
  const n = s.filled
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < n; i++) {
    const v = s.buf[i]
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const pad = (hi - lo) * 0.05
  const tiny = Math.max(1e-9, Math.abs(lo) * 1e-6)
  s.lo = lo - pad
  s.hi = hi - lo + 2 * pad > tiny ? hi + pad : s.lo + tiny
  s.ref.fill(0)
  for (let i = 0; i < n; i++) s.ref[binOf(s.buf[i], s.lo, s.hi, bins)]++
  for (let i = 0; i < bins + 2; i++) s.cur[i] = s.ref[i]
  s.ready = 1
  s.sinceCheck = 0
  s.kl = 0
}

/** D(cur ‖ ref) with Laplace smoothing, in nats. */
function divergence(s: DriftState, total: number, bins: number): number {
  const k = bins + 2
  const norm = total + SMOOTH * k
  let kl = 0
  for (let i = 0; i < k; i++) {
    const p = (s.cur[i] + SMOOTH) / norm
    const q = (s.ref[i] + SMOOTH) / norm
    kl += p * Math.log(p / q)
  }
  return kl > 0 ? kl : 0
}

/**
 * Distribution drift: a reference histogram (the first full window, later the window after
 * each drift) against the histogram of the most recent `window` points. When their KL
 * divergence passes the threshold the stream has changed regime: the detector flags it once,
 * and the ensemble raises the other detectors' thresholds by `boost` (decaying with
 * `halfLife`) while their baselines re-learn, then the reference is rebuilt from a window
 * wholly in the new regime.
 */
export function driftDetector(p: DriftParams): Detector<DriftState> {
  const { window, bins, threshold, every } = p
  return defineDetector(
    'drift',
    () => ({
      n: 0,
      buf: new Array<number>(window).fill(0),
      head: 0,
      filled: 0,
      lo: 0,
      hi: 0,
      ref: new Array<number>(bins + 2).fill(0),
      cur: new Array<number>(bins + 2).fill(0),
      ready: 0,
      rebase: 0,
      sinceCheck: 0,
      kl: 0,
    }),
    (s: DriftState, point: Point, out: Reading, _scale: number) => {
      const x = point.value
      // slide the recent window
      if (s.ready && s.filled === window) s.cur[binOf(s.buf[s.head], s.lo, s.hi, bins)]--
      s.buf[s.head] = x
      s.head = s.head + 1 === window ? 0 : s.head + 1
      if (s.filled < window) s.filled++
      s.n++
      out.threshold = threshold
      out.centre = (s.lo + s.hi) / 2
      out.spread = (s.hi - s.lo) / 2
      out.direction = 0
      out.anomaly = false
      if (!s.ready) {
        if (s.filled === window) rebuild(s, bins)
        out.raw = 0
        out.score = 0
        return
      }
      s.cur[binOf(x, s.lo, s.hi, bins)]++
      if (s.rebase > 0) {
        if (--s.rebase === 0) rebuild(s, bins)
        out.raw = 0
        out.score = 0
        return
      }
      if (++s.sinceCheck >= every) {
        s.sinceCheck = 0
        s.kl = capRaw(divergence(s, s.filled, bins))
        if (s.kl >= threshold) {
          out.anomaly = true
          s.rebase = window
        }
      }
      out.raw = s.kl
      out.score = scoreOf(s.kl, threshold)
    },
  )
}
