import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cusumDetector } from './cusum.js'
import { emptyReading, type Detector, type Point } from './detector.js'
import { driftDetector } from './drift.js'
import { buildEnsemble } from './ensemble.js'
import { ewmaDetector } from './ewma.js'
import { madDetector } from './mad.js'
import { pcaDetector } from './pca.js'
import { seasonalDetector } from './seasonal.js'
import { shiftDetector } from './shift.js'
import { spikeDetector } from './spike.js'
import { gaussian, series } from './synthetic.js'

const floors = { minSpread: 0, relSpread: 0.001 }
const ewma = ewmaDetector({ alpha: 0.05, threshold: 6, warmup: 30, ...floors })
const cusum = cusumDetector({ alpha: 0.01, k: 0.5, h: 10, clip: 4, warmup: 60, ...floors })
const mad = madDetector({ window: 120, threshold: 8, warmup: 30, ...floors })
const seasonal = seasonalDetector({ periodMs: 86_400_000, slots: 288, alpha: 0.02, gamma: 0.2, beta: 0.02, threshold: 6, minSeasons: 2, ...floors })
const drift = driftDetector({ window: 288, bins: 16, threshold: 1, every: 8, boost: 2, halfLife: 144 })
const shift = shiftDetector({ alpha: 0.01, threshold: 8, confirm: 3, extreme: 10, settle: 3, warmup: 60, ...floors })
const spike = spikeDetector({ alpha: 0.01, threshold: 20, critical: 50, notable: 6, learn: 3, ratio: 5, halfLife: 2880, warmup: 100, ...floors })

/** Runs a detector in place over points; returns the indices flagged and the readings' scores. */
function flagged<S>(d: Detector<S>, points: readonly Point[]): { hits: number[]; scores: number[] } {
  const s = d.init()
  const r = emptyReading()
  const hits: number[] = []
  const scores: number[] = []
  points.forEach((p, i) => {
    d.step(s, p, r, 1)
    scores.push(r.score)
    if (r.anomaly) hits.push(i)
  })
  return { hits, scores }
}

const flat = series({ n: 2000, seed: 7, noise: 1 })
const spiky = series({ n: 1000, seed: 3, noise: 1, spikes: [[700, 25]] })

describe('detectors on synthetic series', () => {
  it.each([
    ['ewma', ewma],
    ['mad', mad],
  ] as const)('%s flags a spike and nothing else', (_n, d) => {
    const { hits, scores } = flagged(d as Detector<unknown>, spiky)
    expect(hits).toEqual([700])
    expect(scores[700]).toBeGreaterThan(0.9)
  })

  it.each([
    ['ewma', ewma],
    ['cusum', cusum],
    ['mad', mad],
    ['seasonal', seasonal],
    ['shift', shift],
    ['spike', spike],
    ['drift', drift],
  ] as const)('%s raises no false positive on a stationary noisy series', (_n, d) => {
    expect(flagged(d as Detector<unknown>, flat).hits).toEqual([])
  })

  it('a constant series scores 0 everywhere and a change on it is flagged', () => {
    const constant = Array.from({ length: 400 }, (_, i) => ({ ts: i * 60_000, value: 45 }))
    for (const d of [ewma, cusum, mad] as Detector<unknown>[]) expect(Math.max(...flagged(d, constant).scores)).toBe(0)
    const bumped = constant.map((p, i) => (i === 300 ? { ...p, value: 50 } : p))
    expect(flagged(ewma as Detector<unknown>, bumped).hits).toEqual([300])
  })

  it('cusum detects a level shift of one standard deviation that a z-score misses', () => {
    const shifted = series({ n: 1500, seed: 11, noise: 1, shift: [1000, 1.5] })
    const c = flagged(cusum as Detector<unknown>, shifted).hits
    expect(c.length).toBeGreaterThan(0)
    expect(c[0]).toBeGreaterThanOrEqual(1000)
    expect(c[0]).toBeLessThan(1060)
    expect(c.filter((i) => i < 1000)).toEqual([])
    expect(flagged(ewma as Detector<unknown>, shifted).hits).toEqual([])
  })

  it('seasonal baseline learns a daily pattern and flags an off-season value', () => {
    const days = series({ n: 288 * 5, seed: 5, noise: 0.5, amplitude: 20 })
    expect(flagged(seasonal as Detector<unknown>, days).hits).toEqual([])
    // the EWMA, which has no notion of season, finds the pattern itself anomalous
    expect(flagged(ewmaDetector({ alpha: 0.3, threshold: 4, warmup: 30, ...floors }) as Detector<unknown>, days).hits.length).toBeGreaterThan(0)
    // at the daily trough (slot 216 = 18:00, sin = -1) put the value the series has at its peak
    const i = 288 * 4 + 216
    const off = days.map((p, k) => (k === i ? { ...p, value: 10 + 20 } : p))
    expect(flagged(seasonal as Detector<unknown>, off).hits).toEqual([i])
  })

  it('drift detector flags a change of distribution once and the ensemble raises thresholds', () => {
    const g = gaussian(9)
    const pts = Array.from({ length: 1500 }, (_, i) => ({ ts: i * 300_000, value: i < 800 ? g() : 3 * g() }))
    const hits = flagged(drift as Detector<unknown>, pts).hits
    expect(hits.length).toBe(1)
    expect(hits[0]).toBeGreaterThan(800)
    const members = { ewma: { ...ewmaParams(), weight: 1 }, drift: { window: 288, bins: 16, threshold: 1, every: 8, boost: 2, halfLife: 144, weight: 0 } }
    const ens = buildEnsemble({ combine: 'max', threshold: 0.5, warmup: 30, refractory: 0, refractoryDamp: 1, calibrate: 0, calibrateHalfLife: 2880 }, members)
    const s = ens.init()
    const r = ens.newReading()
    const thresholds: number[] = []
    for (const p of pts) {
      ens.step(s, p, r)
      thresholds.push(r.readings[0].threshold)
    }
    expect(thresholds[hits[0]]).toBe(6)
    expect(thresholds[hits[0] + 1]).toBe(12)
    expect(thresholds[hits[0] + 145]).toBeCloseTo(9, 0)
    expect(thresholds[799]).toBe(6)
  })

  it('streaming PCA flags a vector that breaks a learned correlation', () => {
    const pca = pcaDetector({ dim: 3, components: 1, alpha: 0.01, eta: 0.01, threshold: 6, warmup: 100 })
    const g = gaussian(4)
    const s = pca.init()
    const r = emptyReading()
    const hits: number[] = []
    for (let i = 0; i < 2000; i++) {
      const base = 5 * g()
      const values = i === 1500 ? [base, base, -base + 12] : [base + 0.2 * g(), 2 * base + 0.2 * g(), -base + 0.2 * g()]
      pca.step(s, { ts: i, values }, r, 1)
      if (r.anomaly) hits.push(i)
    }
    expect(hits).toContain(1500)
    expect(hits.length).toBeLessThanOrEqual(3)
  })
})

function ewmaParams() {
  return { alpha: 0.05, threshold: 6, warmup: 30, ...floors }
}

describe('detector contract', () => {
  it.each([
    ['ewma', ewma],
    ['cusum', cusum],
    ['mad', mad],
    ['seasonal', seasonal],
    ['shift', shift],
    ['spike', spike],
    ['drift', drift],
  ] as const)('%s: update is pure, equals step, and its state is plain JSON', (_n, det) => {
    const d = det as Detector<unknown>
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 400 }), (values) => {
        let pure = d.init()
        const inPlace = d.init()
        const r = emptyReading()
        values.forEach((value, i) => {
          const before = JSON.stringify(pure)
          const u = d.update(pure, { ts: i * 300_000, value })
          expect(JSON.stringify(pure)).toBe(before)
          d.step(inPlace, { ts: i * 300_000, value }, r, 1)
          expect(u.score).toBe(r.score)
          expect(u.raw).toBe(r.raw)
          expect(u.score).toBeGreaterThanOrEqual(0)
          expect(u.score).toBeLessThanOrEqual(1)
          pure = u.state
        })
        expect(JSON.stringify(JSON.parse(JSON.stringify(inPlace)))).toBe(JSON.stringify(inPlace))
      }),
      { numRuns: 25 },
    )
  })

  it('mad baseline agrees with sorting the window', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 10, maxLength: 200 }), fc.integer({ min: 3, max: 40 }), (xs, window) => {
        const d = madDetector({ window, threshold: 8, warmup: 3, minSpread: 0, relSpread: 0 })
        const s = d.init()
        const r = emptyReading()
        const median = (v: number[]) => {
          const a = [...v].sort((p, q) => p - q)
          const n = a.length
          return n % 2 ? a[n >> 1] : (a[n / 2 - 1] + a[n / 2]) / 2
        }
        xs.forEach((x, i) => {
          d.step(s, { ts: i, value: x }, r, 1)
          const win = xs.slice(Math.max(0, i - window), i)
          if (win.length >= 3) {
            const m = median(win)
            expect(r.centre).toBe(m)
            expect(r.spread).toBe(Math.max(1.4826 * median(win.map((v) => Math.abs(v - m))), 1e-12))
          }
        })
      }),
    )
  })
})
