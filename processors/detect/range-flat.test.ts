import { describe, expect, it } from 'vitest'
import { emptyReading, type Detector, type Point } from './detector.js'
import { flatDetector } from './flat.js'
import { rangeDetector } from './range.js'
import { gaussian, series } from './synthetic.js'

const range = rangeDetector({ threshold: 0.05, halfLife: 30_000, alpha: 0.01, warmup: 300, minZ: 4 })
const flat = flatDetector({ threshold: 1.5, minRun: 20, halfLife: 10_000, warmup: 100 })

function run<S>(d: Detector<S>, points: readonly Point[]): { hits: number[]; state: S } {
  const s = d.init()
  const r = emptyReading()
  const hits: number[] = []
  points.forEach((p, i) => {
    d.step(s, p, r, 1)
    if (r.anomaly) hits.push(i)
  })
  return { hits, state: s }
}

describe('range detector (new records against the series own span)', () => {
  it('flags a jump past everything the series has shown, once, whatever the scale', () => {
    for (const scale of [1e-3, 1, 1e6]) {
      const pts = series({ n: 2000, seed: 11, noise: scale, level: 50 * scale, shift: [1500, 12 * scale] })
      const { hits } = run(range, pts)
      expect(hits[0], `scale ${scale}`).toBe(1500)
      // the jump widens the range: the new level is not news on every point after it
      expect(hits.length, `scale ${scale}`).toBeLessThanOrEqual(3)
    }
  })

  it('stays quiet on noise, on a slow climb, and before its warm-up', () => {
    expect(run(range, series({ n: 5000, seed: 3, noise: 1 })).hits).toEqual([])
    const climb = series({ n: 5000, seed: 4, noise: 1 }).map((p, i) => ({ ts: p.ts, value: p.value + i * 0.01 }))
    expect(run(range, climb).hits).toEqual([])
    expect(run(range, series({ n: 300, seed: 5, noise: 1, spikes: [[200, 50]] })).hits).toEqual([])
  })

  it('flags a drop below the lowest value too, with the direction', () => {
    const pts = series({ n: 2000, seed: 8, noise: 1, level: 100, spikes: [[1700, -30]] })
    const s = range.init()
    const r = emptyReading()
    let dir = 0
    pts.forEach((p, i) => {
      range.step(s, p, r, 1)
      if (i === 1700) dir = r.anomaly ? r.direction : 0
    })
    expect(dir).toBe(-1)
  })
})

describe('flat detector (stuck values)', () => {
  it('flags a series that stops moving, once, when the run is 1.5x the longest it has shown', () => {
    const pts = series({ n: 2000, seed: 1, noise: 1 }).map((p, i) => (i >= 1000 && i < 1200 ? { ts: p.ts, value: 7 } : p))
    const { hits } = run(flat, pts)
    // longest run before: 0 (continuous noise), so the yardstick is minRun 20: 30 points in a row
    expect(hits).toEqual([1000 + 30])
  })

  it('says nothing about a series that is flat by nature (a constant, or resting at 0 for long runs)', () => {
    expect(
      run(
        flat,
        Array.from({ length: 3000 }, (_, i) => ({ ts: i, value: 5 })),
      ).hits,
    ).toEqual([])
    const g = gaussian(9)
    // bursts of activity, then rests of 100-200 points at 0: rests like those are its routine
    const rest: Point[] = []
    for (let i = 0; rest.length < 6000; i++) {
      for (let k = 0; k < 50; k++) rest.push({ ts: rest.length, value: Math.abs(g()) + 1 })
      const len = 100 + ((i * 37) % 100)
      for (let k = 0; k < len; k++) rest.push({ ts: rest.length, value: 0 })
    }
    expect(run(flat, rest).hits).toEqual([])
  })

  it('keeps O(1) state: a few numbers', () => {
    const { state } = run(flat, series({ n: 1000, seed: 2 }))
    expect(Object.keys(state).sort()).toEqual(['changes', 'longest', 'n', 'prev', 'run', 'told'])
    expect(JSON.stringify(run(range, series({ n: 1000, seed: 2 })).state).length).toBeLessThan(200)
  })
})
