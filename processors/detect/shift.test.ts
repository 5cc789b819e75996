import { describe, expect, it } from 'vitest'
import { emptyReading, scoreOf, type Point } from './detector.js'
import { buildEnsemble, type EnsembleParams, type MemberParams } from './ensemble.js'
import { shiftDetector, type ShiftParams } from './shift.js'
import { gaussian, series } from './synthetic.js'

const P: ShiftParams = { alpha: 0.01, threshold: 8, confirm: 3, extreme: 10, settle: 3, warmup: 60, minSpread: 0, relSpread: 0.001 }

function run(points: readonly Point[], p: ShiftParams = P, scale = 1) {
  const d = shiftDetector(p)
  const s = d.init()
  const r = emptyReading()
  const hits: number[] = []
  const readings = points.map((pt, i) => {
    d.step(s, pt, r, scale)
    if (r.anomaly) hits.push(i)
    return { ...r }
  })
  return { hits, readings }
}

/** Level 10 ± 1 with `jump` added from index `at` on. */
const jumped = (at: number, jump: number, n = 1000) => series({ n, seed: 5, noise: 1, shift: [at, jump] })

describe('shift detector', () => {
  it('flags a sustained jump on its confirm-th point, scoring its size against the old baseline', () => {
    const { hits, readings } = run(jumped(600, 30))
    expect(hits[0]).toBe(602)
    const r = readings[602]
    expect(r.raw).toBeGreaterThan(20)
    expect(r.centre).toBeCloseTo(10, 0)
    expect(r.spread).toBeGreaterThan(0.7)
    expect(r.spread).toBeLessThan(1.3)
    expect(r.direction).toBe(1)
    // the baseline learns the new level: a handful of flags, not one per point after the jump
    expect(hits.length).toBeLessThanOrEqual(3)
    expect(hits.every((i) => i >= 602 && i < 610)).toBe(true)
  })

  it('ignores one or two spikes and stationary noise, and sees downward shifts', () => {
    const spikes = series({
      n: 1000,
      seed: 9,
      noise: 1,
      spikes: [
        [500, 40],
        [700, 40],
        [701, 40],
      ],
    })
    expect(run(spikes).hits).toEqual([])
    expect(run(series({ n: 3000, seed: 2, noise: 1 })).hits).toEqual([])
    const down = run(jumped(500, -25))
    expect(down.hits[0]).toBe(502)
    expect(down.readings[502].direction).toBe(-1)
  })

  it('a jump that comes back once is measured against the calm baseline from before the first', () => {
    const pts = series({ n: 1400, seed: 6, noise: 1 }).map((p, i) => ({ ts: p.ts, value: p.value + ((i >= 600 && i < 800) || i >= 1100 ? 60 : 0) }))
    const on = run(pts)
    expect(on.hits.filter((i) => i < 790)[0]).toBe(602)
    expect(on.hits.filter((i) => i < 790).length).toBeLessThanOrEqual(3)
    expect(on.hits).toContain(1102)
    expect(on.readings[1102].raw).toBeGreaterThan(30)
    expect(on.readings[1102].centre).toBeCloseTo(10, 0)
    // the learning baseline alone still remembers the first episode's spread
    const off = run(pts, { ...P, settle: 0 })
    expect(off.readings[1102].raw).toBeLessThan(10)
    // nothing on the way back down: a return is not a shift
    expect(on.hits.filter((i) => i >= 790 && i < 1100)).toEqual([])
  })

  it('a series that keeps jumping between two levels is reported at most twice as extreme', () => {
    const pts = Array.from({ length: 288 * 12 }, (_, i) => ({ ts: i * 300_000, value: (i % 288 < 144 ? 10 : 70) + (i % 7) * 0.1 }))
    const extreme = run(pts).readings.filter((r) => r.raw >= 10)
    expect(extreme.length).toBeGreaterThanOrEqual(1)
    expect(extreme.length).toBeLessThanOrEqual(4)
  })

  it('confirm 1 is a plain z-score of the point against the baseline', () => {
    const spikes = series({ n: 1000, seed: 9, noise: 1, spikes: [[500, 40]] })
    expect(run(spikes, { ...P, confirm: 1 }).hits).toEqual([500])
  })

  it('an extreme shift saturates the score whatever the threshold multiplier in force', () => {
    const { readings } = run(jumped(600, 30), P, 100)
    const r = readings[602]
    expect(r.threshold).toBe(800)
    expect(r.raw).toBeGreaterThanOrEqual(10)
    expect(r.score).toBeGreaterThanOrEqual(scoreOf(4, 1))
    expect(r.anomaly).toBe(true)
    // without the floor, the same reading would be far below its threshold
    expect(run(jumped(600, 30), { ...P, extreme: 0 }, 100).readings[602].score).toBeLessThan(0.1)
  })
})

const ENS: EnsembleParams = { combine: 'max', threshold: 0.35, warmup: 100, refractory: 0, refractoryDamp: 1, calibrate: 2, calibrateHalfLife: 1_000_000, critical: 0.94 }

describe('ensemble saturation', () => {
  it('neither the recent-peak calibration nor a drift boost nor a small weight hides a jump far beyond the baseline', () => {
    const runWith = (extreme: number) => {
      const members: MemberParams = {
        shift: { ...P, extreme, weight: 0.3 },
        drift: { window: 200, bins: 16, threshold: 0.5, every: 4, boost: 50, halfLife: 1_000_000, weight: 0 },
      }
      const ens = buildEnsemble(ENS, members)
      const s = ens.init()
      const r = ens.newReading()
      const g = gaussian(3)
      // a first episode at +60 sigma sets the calibration peak (never decays here) and the drift boost
      const value = (i: number) => 10 + g() + (i >= 600 && i < 700 ? 60 : 0) + (i >= 4000 ? 25 : 0)
      let peakScale = 1
      let calAtJump = 0
      const scores: number[] = []
      for (let i = 0; i < 4010; i++) {
        ens.step(s, { ts: i * 60_000, value: value(i) }, r)
        scores.push(r.score)
        peakScale = Math.max(peakScale, r.scale)
        if (i === 3999) calAtJump = s.cal[0]
      }
      return { scores, peakScale, calAtJump, top: r.top }
    }
    const on = runWith(10)
    // the shift member's calibrated threshold (2 x its peak) is far above the second jump's 25 sigma
    expect(on.calAtJump * 2).toBeGreaterThan(50)
    expect(on.peakScale).toBeGreaterThan(10)
    // the second jump is still critical, on its third point, and nothing before it was flagged
    expect(on.scores[4002]).toBeGreaterThanOrEqual(0.94)
    expect(Math.max(...on.scores.slice(3900, 4002))).toBeLessThan(0.35)
    // without the floor the same jump would not even be an anomaly
    expect(runWith(0).scores[4002]).toBeLessThan(0.35)
  })

  it('the drift member takes part only on the point where it finds drift', () => {
    const members: MemberParams = { drift: { window: 100, bins: 16, threshold: 1, every: 1, boost: 1, halfLife: 10, weight: 1 } }
    const ens = buildEnsemble({ ...ENS, calibrate: 0, warmup: 0 }, members)
    const s = ens.init()
    const r = ens.newReading()
    const g = gaussian(4)
    let flagged = 0
    for (let i = 0; i < 600; i++) {
      ens.step(s, { ts: i, value: (i < 300 ? 0 : 6) + g() }, r)
      if (r.drift) {
        flagged++
        expect(r.score).toBeGreaterThanOrEqual(0.5)
        expect(r.anomaly).toBe(true)
      } else {
        expect(r.score).toBe(0)
      }
    }
    expect(flagged).toBeGreaterThanOrEqual(1)
  })
})
