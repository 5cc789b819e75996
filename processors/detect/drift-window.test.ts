import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { emptyReading, type Reading } from './detector.js'
import { driftDetector, upgradeDriftState, type DriftParams, type DriftState } from './drift.js'
import { plainCodec } from './codec.js'
import { windowPoolStats } from './window-pool.js'
import { ByteReader, ChunkWriter, FrameReader } from '../runner/index.js'
import { stepAll, type Versioned } from '../stage.js'
import { loadDetectorConfig, type DetectorConfig } from './config.js'
import { detectStage } from './stage.js'
import { deserializeDetectState, serializeDetectState, type DetectState } from './state.js'
import { minuteMetricFacts } from '../../test/support/facts.js'

/**
 * The drift detector as it was written before its window was kept as bins: a ring of the values
 * themselves, binned again whenever one leaves the window. Written out here (not imported) as
 * the reference the compact form must match number for number, and as the producer of states in
 * the old form (what an old checkpoint holds).
 */
function referenceDrift(p: DriftParams) {
  const { window, bins, threshold, every } = p
  const binOf = (x: number, lo: number, hi: number): number => (x < lo ? 0 : x >= hi ? bins + 1 : Math.min(bins, 1 + Math.floor(((x - lo) / (hi - lo)) * bins)))
  const init = () => ({
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
  })
  type S = ReturnType<typeof init>
  const rebuild = (s: S): void => {
    let lo = Infinity
    let hi = -Infinity
    for (let i = 0; i < s.filled; i++) {
      lo = Math.min(lo, s.buf[i])
      hi = Math.max(hi, s.buf[i])
    }
    const pad = (hi - lo) * 0.05
    const tiny = Math.max(1e-9, Math.abs(lo) * 1e-6)
    s.lo = lo - pad
    s.hi = hi - lo + 2 * pad > tiny ? hi + pad : s.lo + tiny
    s.ref.fill(0)
    for (let i = 0; i < s.filled; i++) s.ref[binOf(s.buf[i], s.lo, s.hi)]++
    s.cur = [...s.ref]
    s.ready = 1
    s.sinceCheck = 0
    s.kl = 0
  }
  const step = (s: S, x: number): { raw: number; score: number; anomaly: boolean } => {
    // a value a rebuild will read is kept as float32 (in range), as the compact form keeps it
    const collecting = !s.ready || s.rebase > 0
    if (s.ready && s.filled === window) s.cur[binOf(s.buf[s.head], s.lo, s.hi)]--
    s.buf[s.head] = collecting ? kept(x) : x
    s.head = (s.head + 1) % window
    s.filled = Math.min(window, s.filled + 1)
    s.n++
    if (!s.ready) {
      if (s.filled === window) rebuild(s)
      return { raw: 0, score: 0, anomaly: false }
    }
    s.cur[binOf(x, s.lo, s.hi)]++
    if (s.rebase > 0) {
      if (--s.rebase === 0) rebuild(s)
      return { raw: 0, score: 0, anomaly: false }
    }
    let anomaly = false
    if (++s.sinceCheck >= every) {
      s.sinceCheck = 0
      const k = bins + 2
      const norm = s.filled + 0.5 * k
      let kl = 0
      for (let i = 0; i < k; i++) {
        const pp = (s.cur[i] + 0.5) / norm
        kl += pp * Math.log(pp / ((s.ref[i] + 0.5) / norm))
      }
      s.kl = Math.min(kl > 0 ? kl : 0, 1e9)
      if (s.kl >= threshold) {
        anomaly = true
        s.rebase = window
      }
    }
    const r = s.kl / threshold
    return { raw: s.kl, score: s.kl > 0 ? (r * r) / (1 + r * r) : 0, anomaly }
  }
  return { init, step }
}

/** A value as a float32 within float32's range. */
const kept = (x: number): number => Math.max(-3.4028234663852886e38, Math.min(3.4028234663852886e38, Math.fround(x)))

/** A series with regime changes (so that drift is found and the window rebuilt) and the odd far outlier. */
function series(seed: number, n: number): number[] {
  let r = seed
  const next = (): number => (r = (r * 1103515245 + 12345) % 2147483648) / 2147483648
  return Array.from({ length: n }, (_, i) => {
    const regime = Math.floor(i / 700) % 3
    return regime * 5 + next() * (1 + regime) + (i % 1777 === 1000 ? 1e6 : 0)
  })
}

const PARAMS: DriftParams[] = [
  { window: 64, bins: 8, threshold: 0.3, every: 4, boost: 2, halfLife: 10 },
  { window: 576, bins: 16, threshold: 1, every: 8, boost: 2, halfLife: 288 },
  // more than 253 bins: two bytes per window value
  { window: 50, bins: 300, threshold: 0.5, every: 1, boost: 2, halfLife: 10 },
]

const plainBins = (s: unknown): string =>
  JSON.stringify(s, (_k, v: unknown) => (v instanceof Uint8Array || v instanceof Uint16Array || v instanceof Float64Array || v instanceof Float32Array ? Array.from(v) : v))

describe('drift window as bins', () => {
  it('gives the readings of the values-in-the-window reference on every point, drifts and rebuilds included', () => {
    let drifts = 0
    for (const p of PARAMS) {
      const ref = referenceDrift(p)
      const d = driftDetector(p)
      const rs = ref.init()
      const s = d.init()
      const out: Reading = emptyReading()
      for (const x of series(p.window, 6000)) {
        const want = ref.step(rs, x)
        d.step(s, { ts: 0, value: x }, out, 1)
        expect({ raw: out.raw, score: out.score, anomaly: out.anomaly }).toEqual(want)
        if (want.anomaly) drifts++
      }
      expect(s.bins.length).toBe(p.window)
      expect(s.bins).toBeInstanceOf(p.bins + 2 < 255 ? Uint8Array : Uint16Array)
    }
    expect(drifts).toBeGreaterThan(5)
  })

  it('keeps one byte per window value once settled (the values only while a rebuild needs them)', () => {
    const p = PARAMS[1]
    const d = driftDetector(p)
    const s = d.init()
    const out = emptyReading()
    for (let i = 0; i < p.window - 1; i++) d.step(s, { ts: 0, value: 10 + (i % 7) }, out, 1)
    // the values as float32 in a slot of a shared slab, outside the JS heap: room for the window
    expect(s.raw).toBeInstanceOf(Float32Array)
    expect(s.raw.length).toBe(p.window)
    expect((s.raw as Float32Array).buffer.byteLength).toBeGreaterThan(32 * 1024 * 1024)
    const young = d.init()
    for (let i = 0; i < 40; i++) d.step(young, { ts: 0, value: i }, out, 1)
    // a young series holds what it has seen, zeros after
    expect(Array.from(young.raw).slice(0, 41)).toEqual([...Array.from({ length: 40 }, (_v, i) => i), 0])
    // as the previous release saved it (a Float64Array with room to spare): continues exactly
    const prev = { ...structuredClone(young), raw: Float64Array.from({ length: 64 }, (_v, i) => (i < 40 ? i : 0)) }
    const now = structuredClone(young)
    for (let i = 40; i < p.window + 30; i++) {
      const a = emptyReading()
      const b = emptyReading()
      d.step(prev, { ts: 0, value: (i * 7) % 13 }, a, 1)
      d.step(now, { ts: 0, value: (i * 7) % 13 }, b, 1)
      expect([a.raw, a.score, a.anomaly]).toEqual([b.raw, b.score, b.anomaly])
    }
    expect(plainBins(prev)).toBe(plainBins(now))
    const slots = windowPoolStats().used
    d.step(s, { ts: 0, value: 10 }, out, 1)
    expect(s.raw.length).toBe(0)
    // its slot given back to the pool at once
    expect(windowPoolStats().used).toBe(slots - 1)
    expect(s.bins.byteLength).toBe(p.window)
    // its checkpoint bytes: the bins as bytes, read back as the same kind of array
    const w = new ChunkWriter()
    const shape = plainCodec.shapeOf(s)
    plainCodec.write(w, shape, s)
    const bytes = w.finish().reduce((n, c) => n + c.length, 0)
    expect(bytes).toBeLessThan(p.window + 400)
    const back = plainCodec.read(new ByteReader(Buffer.concat(w.finish())), shape) as DriftState
    expect(back.bins).toBeInstanceOf(Uint8Array)
    expect(plainBins(back)).toBe(plainBins(s))
  })

  it('a state saved in the old form (values in the window) continues exactly, upgraded on read or in its step, at any point (warm-up, settled, after a drift)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 5000 }), fc.boolean(), (pi, at, viaStep) => {
        const p = PARAMS[pi]
        const ref = referenceDrift(p)
        const d = driftDetector(p)
        const xs = series(pi + 11, at + 600)
        const rs = ref.init()
        for (let i = 0; i < at; i++) ref.step(rs, xs[i])
        // the old state as a checkpoint held it (JSON: plain arrays, plain numbers)
        const old = JSON.parse(JSON.stringify(rs)) as Record<string, unknown>
        const s = (viaStep ? old : upgradeDriftState(old)) as DriftState
        if (!viaStep) {
          // the same state a live run of the compact form has at that point
          const live = d.init()
          for (let i = 0; i < at; i++) d.step(live, { ts: 0, value: xs[i] }, emptyReading(), 1)
          if (plainBins(s) !== plainBins(live)) return false
        }
        const out = emptyReading()
        for (let i = at; i < xs.length; i++) {
          const want = ref.step(rs, xs[i])
          d.step(s, { ts: 0, value: xs[i] }, out, 1)
          if (out.raw !== want.raw || out.anomaly !== want.anomaly) return false
        }
        return !('buf' in s) && ArrayBuffer.isView(s.bins)
      }),
      { numRuns: 60 },
    )
  })

  it('a state whose bins came back through JSON (a whole-state checkpoint) is stepped as the live one', () => {
    const p = PARAMS[0]
    const d = driftDetector(p)
    const a = d.init()
    const out = emptyReading()
    const xs = series(3, 3000)
    for (let i = 0; i < 1500; i++) d.step(a, { ts: 0, value: xs[i] }, out, 1)
    const b = JSON.parse(plainBins(a)) as DriftState
    expect(Array.isArray(b.bins)).toBe(true)
    const outB = emptyReading()
    for (let i = 1500; i < xs.length; i++) {
      d.step(a, { ts: 0, value: xs[i] }, out, 1)
      d.step(b, { ts: 0, value: xs[i] }, outB, 1)
      expect(outB).toEqual(out)
    }
    expect(b.bins).toBeInstanceOf(Uint8Array)
    expect(plainBins(b)).toBe(plainBins(a))
  })

  it('the pure update leaves the state untouched, typed arrays included', () => {
    const d = driftDetector(PARAMS[0])
    let s = d.init()
    for (const x of series(5, 200)) s = d.update(s, { ts: 0, value: x }).state
    const before = plainBins(s)
    const bins = s.bins
    const next = d.update(s, { ts: 0, value: 99 }).state
    expect(plainBins(s)).toBe(before)
    expect(next.bins).not.toBe(bins)
    expect(next.bins).toBeInstanceOf(Uint8Array)
  })
})

describe('detect checkpoints written before the drift window was kept as bins', () => {
  const parsed = loadDetectorConfig(`
ensemble: { warmup: 20 }
detectors:
  drift: { window: 32, bins: 6, every: 2, threshold: 0.3, weight: 1 }
`)
  if (!parsed.ok) throw new Error(parsed.error.message)
  const cfg: Versioned<DetectorConfig> = { bucket: 'ben-detectors', revision: 1, value: parsed.value }
  const drift = { window: 32, bins: 6, every: 2, threshold: 0.3, boost: 2, halfLife: 144 }
  const T0 = Date.UTC(2025, 0, 1)
  const names = ['cpu.load', 'mem.used', 'disk.io']
  const values = names.map((_, i) => series(40 + i, 900))
  const facts = minuteMetricFacts(names, values, T0)

  /** The state after `k` points per series, its drift members replaced by what the old code held (the values of the window). */
  function oldFormAt(k: number): DetectState {
    const state = stepAll(detectStage, facts.slice(0, k * names.length), cfg).state
    for (const rec of state.series.values()) {
      const i = names.indexOf(rec.metric)
      const ref = referenceDrift(drift)
      const rs = ref.init()
      for (let j = 0; j < k; j++) ref.step(rs, values[i][j])
      const at = rec.ens.members.findIndex((m) => m !== null && typeof m === 'object' && 'bins' in m)
      expect(at).toBeGreaterThanOrEqual(0)
      // the compact state is the old one, upgraded (a sanity check of the test's own reference)
      expect(plainBins(upgradeDriftState(JSON.parse(JSON.stringify(rs))))).toBe(plainBins(rec.ens.members[at]))
      rec.ens.members[at] = rs
    }
    return state
  }

  const whole = stepAll(detectStage, facts, cfg)
  const wholeOut = whole.out.map((f) => JSON.stringify(f))

  it('a binary (incremental) checkpoint holding old drift states restores, and the run goes on with the outputs and state of an uninterrupted one', () => {
    expect(whole.out.length).toBeGreaterThan(0)
    for (const k of [10, 40, 333, 700]) {
      const old = oldFormAt(k)
      const w = new ChunkWriter(4096)
      detectStage.journal!.write(old, 1, w)
      const rs = detectStage.journal!.restore()
      const frames = new FrameReader((f) => rs.frame(1, f))
      for (const c of w.finish()) frames.push(c)
      const rest = stepAll(detectStage, facts.slice(k * names.length), cfg, rs.finish())
      const out = [...stepAll(detectStage, facts.slice(0, k * names.length), cfg).out, ...rest.out].map((f) => JSON.stringify(f))
      expect(out).toEqual(wholeOut)
      expect(plainBins(serializeDetectState(rest.state))).toBe(plainBins(serializeDetectState(whole.state)))
    }
  })

  it('a whole-state (JSON) checkpoint holding old drift states restores the same way', () => {
    for (const k of [40, 500]) {
      const text = JSON.stringify(serializeDetectState(oldFormAt(k)))
      expect(text).toContain('"buf":[')
      const rest = stepAll(detectStage, facts.slice(k * names.length), cfg, deserializeDetectState(JSON.parse(text)))
      const out = [...stepAll(detectStage, facts.slice(0, k * names.length), cfg).out, ...rest.out].map((f) => JSON.stringify(f))
      expect(out).toEqual(wholeOut)
      expect(plainBins(serializeDetectState(rest.state))).toBe(plainBins(serializeDetectState(whole.state)))
    }
  })
})
