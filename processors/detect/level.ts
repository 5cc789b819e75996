import { defineDetector, type Detector, type Point, type Reading } from './detector.js'
import { rangeDetector, type RangeParams, type RangeState } from './range.js'

export interface LevelParams extends RangeParams {
  /** Points averaged: the level of a series is the mean of its last `window` values. */
  readonly window: number
}

export interface LevelState {
  /** Ring buffer of the last `window` values and their sum. */
  buf: number[]
  head: number
  filled: number
  sum: number
  /** The range detector's state, fed with the level instead of the raw values. */
  range: RangeState
}

/**
 * New records of the level: the `range` detector's statistic, computed on the mean of the last
 * `window` points instead of on single points. A single point far out moves the level little;
 * a stretch of points that sits higher (or lower) than the series ever sat for that long — a
 * bump, spikes that come more often, an oscillation that starts around a flat line — sets a
 * record of the level although no single point sets one of the values. The yardstick is the
 * span of levels the series has shown, so it is scale-free like `range`. O(window) state.
 */
export function levelDetector(p: LevelParams): Detector<LevelState> {
  const { window } = p
  const inner = rangeDetector(p)
  const level = { ts: 0, value: 0 }
  const det = defineDetector(
    'level',
    (): LevelState => ({ buf: new Array<number>(window).fill(0), head: 0, filled: 0, sum: 0, range: inner.init() }),
    (s: LevelState, point: Point, out: Reading, scale: number) => {
      const x = point.value
      if (s.filled === window) s.sum -= s.buf[s.head]
      else s.filled++
      s.buf[s.head] = x
      s.sum += x
      s.head = s.head + 1 === window ? 0 : s.head + 1
      if (s.head === 0) {
        // re-add from the buffer once per turn: rounding errors of the running sum cannot pile up
        let t = 0
        for (let i = 0; i < s.filled; i++) t += s.buf[i]
        s.sum = t
      }
      if (s.filled < window) {
        out.score = 0
        out.raw = 0
        out.threshold = p.threshold * scale
        out.centre = x
        out.spread = 0
        out.direction = 0
        out.anomaly = false
        return
      }
      level.ts = point.ts
      level.value = s.sum / window
      inner.step(s.range, level, out, scale)
    },
  )
  return Object.freeze({ ...det, selfCalibrated: true })
}
