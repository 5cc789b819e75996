import { releaseWindow, takeWindow } from './window-pool.js'
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

/**
 * The bin of each value in the recent window, under the current edges: one byte per value
 * (two when `bins + 2` reaches 255; the top value marks a value that falls in no bin).
 */
export type BinArray = Uint8Array | Uint16Array

export interface DriftState {
  n: number
  /**
   * Ring buffer of the last `window` values, as their bins under the current edges (empty until
   * the first reference exists). Sliding the recent histogram needs only the bin of the value
   * that leaves it; the values themselves are needed only to rebuild the edges, see `raw`.
   */
  bins: BinArray
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
  /**
   * The values the next rebuild reads, oldest first, as float32 (every value is rounded to
   * float32 and clamped to its range whatever holds it, so each form gives the same numbers): the first window
   * (before the first reference: `filled` of them so far) and the window after a drift (while
   * `rebase` counts down: `window - rebase` so far), empty otherwise, so a settled series keeps
   * one byte per window value.
   *
   * Collected in a slot of a shared slab (`window-pool.ts`, given back when the window is
   * complete): every series of a fleet collects its first window at the same time, and as
   * doubles in the JS heap (576 values, 6.8 KB a series with the array's growth) they were half
   * the live heap at 100,000 series, which V8 then grew to a multiple of: a 2.5 GB peak. A
   * plain array or a `Float64Array` only as read back from an older checkpoint (the length of a
   * typed array is room, not count), a `Float32Array` of its own as read back from a newer one.
   */
  raw: number[] | Float64Array | Float32Array
}

/** The `raw` of a state that collects nothing (shared and frozen: never written). */
const NO_VALUES: number[] = Object.freeze([]) as unknown as number[]

/**
 * `raw` with room for index `at` (the next value: values are collected in order): a slot of the
 * shared pool for a window that starts, else the array itself, or an array with the first `at` values.
 */
function grown(raw: DriftState['raw'], at: number, window: number): DriftState['raw'] {
  if (raw === NO_VALUES && at === 0) return takeWindow(window)
  if (Array.isArray(raw) && raw !== NO_VALUES) return raw
  const next: number[] = []
  for (let i = 0; i < at && i < raw.length; i++) next.push(raw[i])
  return next
}

/** Largest float32. */
const F32_MAX = 3.4028234663852886e38

/** A value as the window keeps it: rounded to float32, and within float32's range (a JSON copy would make an overflow's Infinity null). */
const kept = (x: number): number => {
  const f = Math.fround(x)
  return f === Infinity ? F32_MAX : f === -Infinity ? -F32_MAX : f
}

/** Laplace smoothing of bin probabilities. */
const SMOOTH = 0.5

function binOf(x: number, lo: number, hi: number, bins: number): number {
  if (x < lo) return 0
  if (x >= hi) return bins + 1
  const b = 1 + Math.floor(((x - lo) / (hi - lo)) * bins)
  return b > bins ? bins : b
}

/** A bin array for `bins` bins (plus the two overflow bins and the no-bin mark). */
export function binArray(bins: number, length: number): BinArray {
  return bins + 2 < 0xff ? new Uint8Array(length) : new Uint16Array(length)
}

/** The no-bin mark of an array: a bin index past every histogram (NaN edges, absurd spans). */
const noBin = (a: BinArray): number => (a instanceof Uint8Array ? 0xff : 0xffff)

/**
 * Rebuilds edges and both histograms from the window's values (`raw`, oldest first), and the bin
 * of each value in the ring: the value `raw[j]` sits at ring position `(head + j) % window`.
 */
function rebuild(s: DriftState, bins: number, window: number): void {
  const values = s.raw
  const n = window
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const pad = (hi - lo) * 0.05
  const tiny = Math.max(1e-9, Math.abs(lo) * 1e-6)
  s.lo = lo - pad
  s.hi = hi - lo + 2 * pad > tiny ? hi + pad : s.lo + tiny
  s.ref.fill(0)
  if (s.bins.length !== window) s.bins = binArray(bins, window)
  const none = noBin(s.bins)
  for (let j = 0; j < n; j++) {
    const b = binOf(values[j], s.lo, s.hi, bins)
    // NaN (a span past float64): counted nowhere, as before (an array index that is not one)
    if (b === b) s.ref[b]++
    s.bins[(s.head + j) % window] = b === b ? b : none
  }
  for (let i = 0; i < bins + 2; i++) s.cur[i] = s.ref[i]
  if (s.raw instanceof Float32Array) releaseWindow(s.raw)
  s.raw = NO_VALUES
  s.ready = 1
  s.sinceCheck = 0
  s.kl = 0
}

/**
 * A drift state saved before the window was kept as bins (`buf`: the values themselves), in the
 * current form: the bins of the values under the state's edges, and the values a pending
 * rebuild needs. Same numbers from here on as if it had never been saved. Anything else is
 * returned as it is.
 */
export function upgradeDriftState(old: unknown): unknown {
  if (old === null || typeof old !== 'object') return old
  const o = old as Record<string, unknown>
  if (!Array.isArray(o.buf) || !Array.isArray(o.ref) || o.bins !== undefined) return old
  const buf = o.buf as number[]
  const window = buf.length
  const ref = o.ref as number[]
  const bins = ref.length - 2
  const num = (k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0)
  const head = num('head')
  const filled = num('filled')
  const ready = num('ready')
  const rebase = num('rebase')
  const lo = num('lo')
  const hi = num('hi')
  // the values collected so far, in an array grown as a live run grows it
  let raw: DriftState['raw'] = NO_VALUES
  const put = (at: number, v: number): void => {
    if (at >= raw.length) raw = grown(raw, at, window)
    raw[at] = kept(v)
  }
  let binsOut = binArray(bins, 0)
  if (!ready) for (let j = 0; j < filled; j++) put(j, buf[j])
  else {
    binsOut = binArray(bins, window)
    const none = noBin(binsOut)
    for (let i = 0; i < window; i++) {
      const b = binOf(buf[i], lo, hi, bins)
      binsOut[i] = b === b ? b : none
    }
    // the values since the drift was found: the last `window - rebase`, oldest first
    const since = rebase > 0 ? window - rebase : 0
    for (let j = 0; j < since; j++) put(j, buf[(((head - since + j) % window) + window) % window])
  }
  return {
    n: num('n'),
    bins: binsOut,
    head,
    filled,
    lo,
    hi,
    ref,
    cur: o.cur,
    ready,
    rebase,
    sinceCheck: num('sinceCheck'),
    kl: num('kl'),
    raw,
  } satisfies Record<keyof DriftState, unknown>
}

/** A drift state whose bins came back as a plain array (JSON), as a bin array again. */
function typedBins(s: DriftState, bins: number): void {
  const a = s.bins as unknown
  if (Array.isArray(a)) {
    const t = binArray(bins, a.length)
    for (let i = 0; i < a.length; i++) t[i] = a[i] as number
    s.bins = t
  } else if (a && typeof a === 'object' && !ArrayBuffer.isView(a)) {
    // a typed array through JSON without a replacer: {"0": b0, "1": b1, ...}
    const v = Object.values(a as Record<string, number>)
    const t = binArray(bins, v.length)
    for (let i = 0; i < v.length; i++) t[i] = v[i]
    s.bins = t
  }
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
      bins: binArray(bins, 0),
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
      raw: NO_VALUES,
    }),
    (s: DriftState, point: Point, out: Reading, _scale: number) => {
      const x = point.value
      if (!ArrayBuffer.isView(s.bins)) {
        // a state saved in another form (the values as `buf`, or bins through JSON): upgraded in place
        const o = s as unknown as { buf?: unknown }
        if (o.buf !== undefined) {
          Object.assign(s, upgradeDriftState({ ...s }))
          delete o.buf
        }
        typedBins(s, bins)
        const raw = s.raw as unknown
        if (!ArrayBuffer.isView(raw)) {
          const v = Array.isArray(raw) ? (raw as number[]) : raw && typeof raw === 'object' ? Object.values(raw as Record<string, number>) : []
          s.raw = v.length ? v.map(Number) : NO_VALUES
        }
      }
      let b = 0
      if (s.ready) {
        // slide the recent window: the bin of the value that leaves it, then the new value's
        const none = s.bins instanceof Uint8Array ? 0xff : 0xffff
        if (s.filled === window) {
          const old = s.bins[s.head]
          if (old !== none) s.cur[old]--
        }
        b = binOf(x, s.lo, s.hi, bins)
        s.bins[s.head] = b === b ? b : none
      }
      // collecting the window a rebuild will read: the value's place is the count so far
      if (!s.ready || s.rebase > 0) {
        const at = s.ready ? window - s.rebase : s.filled
        if (at >= s.raw.length) s.raw = grown(s.raw, at, window)
        s.raw[at] = kept(x)
      }
      s.head = s.head + 1 === window ? 0 : s.head + 1
      if (s.filled < window) s.filled++
      s.n++
      out.threshold = threshold
      out.centre = (s.lo + s.hi) / 2
      out.spread = (s.hi - s.lo) / 2
      out.direction = 0
      out.anomaly = false
      if (!s.ready) {
        if (s.filled === window) rebuild(s, bins, window)
        out.raw = 0
        out.score = 0
        return
      }
      if (b === b) s.cur[b]++
      if (s.rebase > 0) {
        if (--s.rebase === 0) rebuild(s, bins, window)
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
