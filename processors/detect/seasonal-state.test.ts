import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { capRaw, emptyReading, flooredSpread, scoreOf, type Point, type Reading } from './detector.js'
import { seasonalDetector, upgradeSeasonalState, SEEN_BITS, type SeasonalParams, type SeasonalState } from './seasonal.js'
import { plainCodec } from './codec.js'
import { ByteReader, ChunkWriter, FrameReader } from '../runner/index.js'
import type { AnomalyFact } from '../../schemas/index.js'
import { stepAll, type Versioned } from '../stage.js'
import { loadDetectorConfig, type DetectorConfig } from './config.js'
import { detectStage } from './stage.js'
import { deserializeDetectState, serializeDetectState, type DetectState } from './state.js'
import { minuteMetricFacts } from '../../test/support/facts.js'

/**
 * The seasonal detector as it was written before its learned slots were a bitset: a count per
 * slot (`seen`, capped at 1e9), of which only `> 0` was read. Written out here (not imported) as
 * the reference the bitset form must match number for number, and as the producer of states in
 * the old form (what an old checkpoint holds).
 */
function referenceSeasonal(p: SeasonalParams) {
  const { periodMs, slots, alpha, gamma, beta, threshold, minSeasons, minSpread, relSpread } = p
  const slotMs = periodMs / slots
  const init = () => ({ n: 0, firstTs: 0, level: 0, variance: 0, season: new Array<number>(slots).fill(0), seen: new Array<number>(slots).fill(0) })
  type S = ReturnType<typeof init>
  const step = (s: S, point: Point, out: Reading, scale: number): void => {
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
  }
  return { init, step }
}

const HOUR = 3_600_000
const PARAMS: SeasonalParams[] = [
  { periodMs: HOUR, slots: 12, alpha: 0.02, gamma: 0.05, beta: 0.005, threshold: 6.9, minSeasons: 1, minSpread: 0, relSpread: 0.001 },
  // the shipped default's day of 96 slots (4 bitset elements, the last one partly used)
  { periodMs: 86_400_000, slots: 96, alpha: 0.02, gamma: 0.05, beta: 0.005, threshold: 6.9, minSeasons: 1, minSpread: 0, relSpread: 0.001 },
  // a week of hours: 168 slots, a multiple of neither 8 nor 30
  { periodMs: 7 * 86_400_000, slots: 168, alpha: 0.05, gamma: 0.2, beta: 0.02, threshold: 4, minSeasons: 2, minSpread: 0, relSpread: 0.001 },
]

/** Points of a series with a season, noise, gaps and the odd outlier (deterministic per seed); `ts` jitters and skips. */
function points(seed: number, n: number, periodMs: number): Point[] {
  let r = seed * 7919 + 1
  const next = (): number => (r = (r * 1103515245 + 12345) % 2147483648) / 2147483648
  const out: Point[] = []
  let ts = 1_700_000_000_000 + Math.floor(next() * periodMs)
  const stepMs = Math.max(1, Math.floor(periodMs / 150))
  for (let i = 0; i < n; i++) {
    ts += next() < 0.05 ? stepMs * Math.floor(1 + next() * 40) : stepMs
    const phase = ((ts % periodMs) / periodMs) * 2 * Math.PI
    const outlier = next() < 0.01 ? (next() - 0.5) * 200 : 0
    out.push({ ts, value: 50 + 20 * Math.sin(phase) + (next() - 0.5) * 3 + outlier })
  }
  return out
}

const fields = (r: Reading): unknown[] => [r.raw, r.score, r.threshold, r.centre, r.spread, r.direction, r.anomaly]

describe('seasonal state: the learned slots as a bitset', () => {
  it('reads exactly as the count per slot did, and holds the same numbers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PARAMS.length - 1 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 10, max: 3000 }), (pi, seed, n) => {
        const p = PARAMS[pi]
        const ref = referenceSeasonal(p)
        const d = seasonalDetector(p)
        const rs = ref.init()
        const s = d.init()
        const a = emptyReading()
        const b = emptyReading()
        for (const pt of points(seed, n, p.periodMs)) {
          ref.step(rs, pt, a, 1)
          d.step(s, pt, b, 1)
          if (JSON.stringify(fields(a)) !== JSON.stringify(fields(b))) return false
        }
        const bitsOk = rs.seen.every((c, i) => c > 0 === ((s.seenBits[Math.floor(i / SEEN_BITS)] & (1 << (i % SEEN_BITS))) !== 0))
        return bitsOk && JSON.stringify([rs.n, rs.firstTs, rs.level, rs.variance, rs.season]) === JSON.stringify([s.n, s.firstTs, s.level, s.variance, s.season])
      }),
      { numRuns: 60 },
    )
  })

  it('is ceil(slots / 30) small integers, and a checkpoint of it reads back exactly', () => {
    const p = PARAMS[1]
    const d = seasonalDetector(p)
    const s = d.init()
    expect(s.seenBits).toEqual([0, 0, 0, 0])
    const out = emptyReading()
    for (const pt of points(3, 200, p.periodMs)) d.step(s, pt, out, 1)
    expect(s.seenBits.some((w) => w !== 0)).toBe(true)
    for (const w of s.seenBits) expect(Number.isInteger(w) && w >= 0 && w < 2 ** SEEN_BITS).toBe(true)
    expect('seen' in s).toBe(false)
    const w = new ChunkWriter()
    const shape = plainCodec.shapeOf(s)
    plainCodec.write(w, shape, s)
    const back = plainCodec.read(new ByteReader(Buffer.concat(w.finish())), shape) as SeasonalState
    expect(JSON.stringify(back)).toBe(JSON.stringify(s))
    // the restored state goes on as the original
    const a = emptyReading()
    const b = emptyReading()
    for (const pt of points(4, 300, p.periodMs).map((q) => ({ ts: q.ts + 3 * p.periodMs, value: q.value }))) {
      d.step(s, pt, a, 1)
      d.step(back, pt, b, 1)
      expect(fields(b)).toEqual(fields(a))
    }
  })

  it('a state saved with a count per slot continues exactly, upgraded on read or in its step, at any point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PARAMS.length - 1 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 2000 }), fc.boolean(), (pi, seed, at, viaStep) => {
        const p = PARAMS[pi]
        const ref = referenceSeasonal(p)
        const d = seasonalDetector(p)
        const pts = points(seed, at + 500, p.periodMs)
        const rs = ref.init()
        const a = emptyReading()
        for (let i = 0; i < at; i++) ref.step(rs, pts[i], a, 1)
        // the old state as a checkpoint held it (plain arrays, plain numbers)
        const old = JSON.parse(JSON.stringify(rs)) as Record<string, unknown>
        const s = (viaStep ? old : upgradeSeasonalState(old)) as SeasonalState
        if (!viaStep) {
          // the same state a live run of the bitset form has at that point
          const live = d.init()
          for (let i = 0; i < at; i++) d.step(live, pts[i], emptyReading(), 1)
          if (JSON.stringify(s) !== JSON.stringify(live)) return false
        }
        const b = emptyReading()
        for (let i = at; i < pts.length; i++) {
          ref.step(rs, pts[i], a, 1)
          d.step(s, pts[i], b, 1)
          if (JSON.stringify(fields(a)) !== JSON.stringify(fields(b))) return false
        }
        return !('seen' in s) && Array.isArray(s.seenBits)
      }),
      { numRuns: 60 },
    )
  })

  it('leaves states of other kinds alone', () => {
    const drift = { buf: [1, 2], ref: [0, 0, 0], head: 0 }
    expect(upgradeSeasonalState(drift)).toBe(drift)
    const current = seasonalDetector(PARAMS[0]).init()
    expect(upgradeSeasonalState(current)).toBe(current)
    expect(upgradeSeasonalState(null)).toBe(null)
    expect(upgradeSeasonalState(3)).toBe(3)
  })
})

describe('detect checkpoints written before the seasonal slots were a bitset', () => {
  const parsed = loadDetectorConfig(`
ensemble: { warmup: 20 }
detectors:
  seasonal: { enabled: true, weight: 1, period: 1h, slots: 12, alpha: 0.02, gamma: 0.05, beta: 0.005, threshold: 6.9, minSeasons: 1 }
`)
  if (!parsed.ok) throw new Error(parsed.error.message)
  const cfg: Versioned<DetectorConfig> = { bucket: 'ben-detectors', revision: 1, value: parsed.value }
  const params = PARAMS[0]
  const T0 = Date.UTC(2025, 0, 1)
  const names = ['cpu.load', 'mem.used', 'disk.io']
  const values = names.map((_, i) => points(60 + i, 900, HOUR).map((q, k) => (k === 500 + 37 * i ? q.value + 120 : q.value)))
  const facts = minuteMetricFacts(names, values, T0)

  /** The state after `k` points per series, its seasonal members replaced by what the old code held (a count per slot). */
  function oldFormAt(k: number): DetectState {
    const state = stepAll(detectStage, facts.slice(0, k * names.length), cfg).state
    for (const rec of state.series.values()) {
      const i = names.indexOf(rec.metric)
      const ref = referenceSeasonal(params)
      const rs = ref.init()
      for (let j = 0; j < k; j++) ref.step(rs, { ts: T0 + j * 60_000, value: values[i][j] }, emptyReading(), 1)
      const at = rec.ens.members.findIndex((m) => m !== null && typeof m === 'object' && 'seenBits' in m)
      expect(at).toBeGreaterThanOrEqual(0)
      // the bitset state is the old one, upgraded (a check of the test's own reference)
      expect(JSON.stringify(upgradeSeasonalState(JSON.parse(JSON.stringify(rs))))).toBe(JSON.stringify(rec.ens.members[at]))
      rec.ens.members[at] = rs
    }
    return state
  }

  const whole = stepAll(detectStage, facts, cfg)
  const wholeOut = whole.out.map((f) => JSON.stringify(f))
  const restoreBinary = (state: DetectState): DetectState => {
    const w = new ChunkWriter(4096)
    detectStage.journal!.write(state, 1, w)
    const rs = detectStage.journal!.restore()
    const frames = new FrameReader((f) => rs.frame(1, f))
    for (const c of w.finish()) frames.push(c)
    return rs.finish()
  }

  it('the seasonal member raises anomalies in this run (so equal outputs mean something)', () => {
    expect(whole.out.some((f) => (f as AnomalyFact).payload.detectors.some((x) => x.name === 'seasonal' && x.score >= 0.5))).toBe(true)
  })

  it('a binary (incremental) checkpoint, of the bitset form or holding old states, restores, and the run goes on with the outputs and state of an uninterrupted one', () => {
    for (const k of [10, 60, 333, 700])
      for (const old of [false, true]) {
        const head = stepAll(detectStage, facts.slice(0, k * names.length), cfg)
        const rest = stepAll(detectStage, facts.slice(k * names.length), cfg, restoreBinary(old ? oldFormAt(k) : head.state))
        expect([...head.out, ...rest.out].map((f) => JSON.stringify(f))).toEqual(wholeOut)
        expect(JSON.stringify(serializeDetectState(rest.state))).toBe(JSON.stringify(serializeDetectState(whole.state)))
      }
  })

  it('a whole-state (JSON) checkpoint holding old seasonal states restores the same way', () => {
    for (const k of [30, 500]) {
      const text = JSON.stringify(serializeDetectState(oldFormAt(k)))
      expect(text).toContain('"seen":[')
      const rest = stepAll(detectStage, facts.slice(k * names.length), cfg, deserializeDetectState(JSON.parse(text)))
      const out = [...stepAll(detectStage, facts.slice(0, k * names.length), cfg).out, ...rest.out].map((f) => JSON.stringify(f))
      expect(out).toEqual(wholeOut)
      expect(JSON.stringify(serializeDetectState(rest.state))).toBe(JSON.stringify(serializeDetectState(whole.state)))
    }
  })
})
