import { describe, expect, it } from 'vitest'
import { emptyReading, type Detector, type Point } from './detector.js'
import { levelDetector } from './level.js'
import { rangeDetector } from './range.js'
import { buildEnsemble } from './ensemble.js'
import { describe as sentence } from './explain.js'
import { gaussian, series } from './synthetic.js'

const params = { window: 24, threshold: 0.05, halfLife: 30_000, alpha: 0.01, warmup: 300, minZ: 3 }
const level = levelDetector(params)

function hits<S>(d: Detector<S>, points: readonly Point[]): number[] {
  const s = d.init()
  const r = emptyReading()
  const out: number[] = []
  points.forEach((p, i) => {
    d.step(s, p, r, 1)
    if (r.anomaly) out.push(i)
  })
  return out
}

/** Noise with occasional single spikes of 6 sd (the range the points cover), and from `at` on a stretch sitting 1.5 sd higher. */
function bumpy(at: number, n = 3000): Point[] {
  const g = gaussian(21)
  return Array.from({ length: n }, (_, i) => {
    let v = 10 + g()
    if (i % 97 === 50) v += 6
    if (i >= at && i < at + 60) v += 1.5
    return { ts: i * 300_000, value: v }
  })
}

describe('level detector (records of the mean of the last points)', () => {
  it('flags a stretch that sits higher than the series ever sat, which no single point shows', () => {
    const pts = bumpy(2000)
    const found = hits(level, pts)
    const inBump = found.filter((i) => i >= 2000 && i < 2060)
    expect(inBump.length).toBeGreaterThanOrEqual(1)
    // the first record is made while the window fills with the stretch (an early detection)
    expect(inBump[0]).toBeLessThan(2024)
    // nothing once the series is back
    expect(found.filter((i) => i >= 2084)).toEqual([])
    // the single points of the bump are not records of the values: the spikes went further
    expect(hits(rangeDetector({ ...params, minZ: 2 }), pts).filter((i) => i >= 2000 && i < 2060)).toEqual([])
  })

  it('is rare on noise with spikes without the bump, and the same whatever the scale', () => {
    const base = hits(level, bumpy(1e9))
    // a noisy level sets a record now and then (about as often as the values do): rare, not routine
    expect(base.length).toBeLessThanOrEqual(1)
    for (const scale of [1e-3, 1e6]) {
      const pts = bumpy(1e9).map((p) => ({ ts: p.ts, value: p.value * scale }))
      expect(hits(level, pts), `scale ${scale}`).toEqual(base)
    }
    // plain noise: its level sets a record now and then, as its values do (records of a noisy
    // statistic thin out as ~1/n): at most one in 5 000 points, on each of six seeds
    for (const seed of [3, 4, 5, 6, 7, 8]) expect(hits(level, series({ n: 5000, seed, noise: 1 })).length, `seed ${seed}`).toBeLessThanOrEqual(1)
  })

  it('waits `minAge` of event time as well as `warmup` points', () => {
    // one point a second: 300 points are 5 minutes, far from a day
    const pts = bumpy(2000).map((p, i) => ({ ts: i * 1000, value: p.value }))
    expect(hits(levelDetector({ ...params, minAge: 86_400_000 }), pts)).toEqual([])
    expect(hits(levelDetector({ ...params, minAge: 1_000_000 }), pts).length).toBeGreaterThanOrEqual(1)
  })

  it('keeps O(window) state, plain JSON', () => {
    const s = level.init()
    const r = emptyReading()
    for (const p of bumpy(2000, 500)) level.step(s, p, r, 1)
    expect(JSON.parse(JSON.stringify(s))).toEqual(s)
    expect(s.buf).toHaveLength(24)
  })

  it('is low on its own in the ensemble, and a bigger record outranks a smaller one', () => {
    const ens = buildEnsemble(
      { combine: 'max', threshold: 0.5, warmup: 0, refractory: 0, refractoryDamp: 1, calibrate: 0, calibrateHalfLife: 2880, medium: 0.8 },
      { level: { ...params, weight: 1 } },
    )
    const scoreAt = (size: number): number => {
      const st = ens.init()
      const out = ens.newReading()
      let best = 0
      bumpy(1e9).forEach((p, i) => {
        ens.step(st, { ts: p.ts, value: p.value + (i >= 2000 && i < 2060 ? size : 0) }, out)
        if (i >= 2000 && i < 2060 && out.score > best) best = out.score
      })
      return best
    }
    const small = scoreAt(1.5)
    const big = scoreAt(20)
    expect(small).toBeGreaterThanOrEqual(0.5)
    expect(big).toBeGreaterThan(small)
    expect(big).toBeLessThan(0.8)
  })

  it('says in plain words what it saw', () => {
    const text = sentence('level', { ...emptyReading(), raw: 0.12, centre: 10, spread: 2, direction: 1 }, { metric: 'cpu', source: 'web-1', value: 12.5 })
    expect(text).toBe('cpu on web-1 was 12.5, and the mean of its recent values went above the highest level it has shown (levels 8 to 12) by 12 % of that span')
  })
})
