import { describe, expect, it } from 'vitest'
import { NAB_PROFILES, optimiseThreshold, probationLength, scaledSigmoid, scoreFile, type NabFile } from './nab-scorer.js'

const std = NAB_PROFILES.standard
const file = (n: number, windows: Array<[number, number]>, fire: number[] = []): NabFile => {
  const scores = new Array<number>(n).fill(0)
  for (const i of fire) scores[i] = 1
  return { name: 'f', scores, windows }
}

describe('NAB scoring', () => {
  it('sigmoid and probation follow NAB', () => {
    expect(scaledSigmoid(0)).toBeCloseTo(0, 12)
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 4)
    expect(scaledSigmoid(3.5)).toBe(-1)
    expect(probationLength(4032)).toBe(604)
    expect(probationLength(10_000)).toBe(750)
  })

  it('a detection at the left edge of a window scores +tpWeight, a miss -fnWeight', () => {
    expect(scoreFile(file(2000, [[1000, 1099]], [1000]), 0.5, std)).toMatchObject({ tp: 1, fp: 0, fn: 0, score: 1 })
    expect(scoreFile(file(2000, [[1000, 1099]], []), 0.5, std)).toMatchObject({ tp: 0, fn: 1, score: -1 })
    // only the earliest detection counts, later ones in the window are free
    const late = scoreFile(file(2000, [[1000, 1099]], [1090, 1095]), 0.5, std)
    expect(late.tp).toBe(1)
    expect(late.score).toBeGreaterThan(0)
    expect(late.score).toBeLessThan(0.5)
  })

  it('false positives cost fpWeight, less just after a window, nothing in probation', () => {
    expect(scoreFile(file(2000, [[1000, 1099]], [700]), 0.5, std).score).toBeCloseTo(-1 - 0.11, 10)
    const justAfter = scoreFile(file(2000, [[1000, 1099]], [1000, 1102]), 0.5, std)
    expect(justAfter.fp).toBe(1)
    expect(justAfter.score).toBeGreaterThan(1 - 0.11)
    expect(scoreFile(file(2000, [[1000, 1099]], [1000, 10]), 0.5, std).score).toBe(1)
  })

  it('normalises to 100 for the perfect detector and 0 for the null detector', () => {
    const perfect = [
      file(
        2000,
        [
          [1000, 1099],
          [1500, 1599],
        ],
        [1000, 1500],
      ),
      file(2000, [], []),
    ]
    expect(optimiseThreshold(perfect, std).normalised).toBeCloseTo(100, 10)
    const silent = [file(2000, [[1000, 1099]], [])]
    expect(optimiseThreshold(silent, std)).toMatchObject({ normalised: 0, nullScore: -1, perfectScore: 1 })
  })

  it('optimises the threshold over every distinct score', () => {
    const f: NabFile = { name: 'g', scores: Array.from({ length: 2000 }, (_, i) => (i === 1000 ? 0.7 : i === 1500 ? 0.9 : 0.1)), windows: [[1000, 1099]] }
    const best = optimiseThreshold([f], std)
    expect(best.threshold).toBe(0.7)
    // at 0.7 the window is hit at its left edge and the 0.9 point outside costs a sigmoid-weighted FP
    expect(best.raw).toBeCloseTo(scoreFile(f, 0.7, std).score, 12)
    expect(best.raw).toBeLessThan(1)
    expect(best.raw).toBeGreaterThan(0.85)
  })

  it('an FP just after a window costs fpWeight x the scaled sigmoid of its distance (NAB sweeper), doubled in reward_low_FP', () => {
    const f = file(2000, [[1000, 1099]], [1000, 1102])
    const sig = 2 / (1 + Math.exp((5 * 3) / 99)) - 1
    expect(scoreFile(f, 0.5, std).score).toBeCloseTo(1 + 0.11 * sig, 12)
    expect(scoreFile(f, 0.5, NAB_PROFILES.reward_low_FP_rate).score).toBeCloseTo(1 + 0.22 * sig, 12)
    // reward_low_FN: a miss costs 2
    expect(scoreFile(file(2000, [[1000, 1099]], []), 0.5, NAB_PROFILES.reward_low_FN_rate).score).toBe(-2)
  })

  it('the sweep equals scoring every distinct threshold one by one, on random files', () => {
    let seed = 42
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
    const files: NabFile[] = Array.from({ length: 4 }, (_, k) => ({
      name: `r${k}`,
      scores: Array.from({ length: 1500 }, () => (rnd() < 0.02 ? Math.round(rnd() * 20) / 20 : 0)),
      windows:
        k === 3
          ? []
          : [
              [400 + k * 100, 480 + k * 100],
              [1000, 1100],
            ],
    }))
    for (const p of Object.values(NAB_PROFILES)) {
      const best = optimiseThreshold(files, p)
      const candidates = [...new Set(files.flatMap((f) => Array.from(f.scores)))]
      const brute = Math.max(best.nullScore, ...candidates.map((t) => files.reduce((a, f) => a + scoreFile(f, t, p).score, 0)))
      expect(best.raw).toBeCloseTo(brute, 9)
    }
  })
})
