/**
 * NAB scoring (Numenta Anomaly Benchmark v1.1, `nab/sweeper.py`), reimplemented:
 *
 * - Each row i of a file gets a sweep score: inside a window [l, r] (indices, inclusive, width
 *   w = r-l+1) it is tpWeight x σ(-(r-i+1)/w) / σ(-1); outside every window it is
 *   fpWeight x σ(|r_prev - i| / (w_prev - 1)) after a window, or -fpWeight before the first,
 *   with σ(y) = 2/(1+e^{5y}) - 1 (and -1 for y > 3). Rows in the probationary period
 *   (min(floor(0.15 n), 750) rows) are not scored.
 * - For a threshold θ, rows with anomaly score ≥ θ are detections. Each window counts only its
 *   earliest detection (the one with the highest sweep score) as a TP; a window with none
 *   costs -fnWeight; every detection outside windows adds its (negative) FP sweep score.
 * - The corpus score for θ sums over files. NAB's optimiser evaluates it at every distinct
 *   anomaly score (the sweep) and keeps the best θ per profile.
 * - Normalised score = 100 x (best - null) / (perfect - null), with null = -fnWeight x windows
 *   (never fires) and perfect = tpWeight x windows (fires at the start of every window).
 */

export interface NabProfile {
  readonly tpWeight: number
  readonly fpWeight: number
  readonly fnWeight: number
}

export const NAB_PROFILES = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
} as const satisfies Record<string, NabProfile>

export interface NabFile {
  readonly name: string
  /** Anomaly score per row, in [0, 1]. */
  readonly scores: ArrayLike<number>
  /** Label windows as inclusive row index pairs, in time order. */
  readonly windows: ReadonlyArray<readonly [number, number]>
}

export const probationLength = (rows: number): number => Math.min(Math.floor(0.15 * rows), 750)

export function scaledSigmoid(y: number): number {
  return y > 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1
}

/** Per-row sweep scores and window ids (-1 outside windows, -2 probationary). */
export function sweepScores(file: NabFile, p: NabProfile): { sweep: Float64Array; window: Int32Array } {
  const n = file.scores.length
  const sweep = new Float64Array(n)
  const window = new Int32Array(n)
  const probation = probationLength(n)
  const maxTP = scaledSigmoid(-1)
  let next = 0
  let cur = -1
  let prevRight = -1
  let prevWidth = 0
  for (let i = 0; i < n; i++) {
    if (cur < 0 && next < file.windows.length && i === file.windows[next][0]) cur = next++
    if (cur >= 0) {
      const [l, r] = file.windows[cur]
      const width = r - l + 1
      sweep[i] = (scaledSigmoid(-(r - i + 1) / width) * p.tpWeight) / maxTP
      window[i] = cur
    } else {
      const u = prevRight < 0 ? -1 : scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1))
      sweep[i] = u * p.fpWeight
      window[i] = -1
    }
    if (i < probation) window[i] = -2
    if (cur >= 0 && i === file.windows[cur][1]) {
      prevRight = file.windows[cur][1]
      prevWidth = file.windows[cur][1] - file.windows[cur][0] + 1
      cur = -1
    }
  }
  return { sweep, window }
}

export interface FileResult {
  readonly name: string
  readonly windows: number
  readonly tp: number
  readonly fp: number
  readonly fn: number
  /** Raw score of the file at the threshold. */
  readonly score: number
}

/** Scores one file at a fixed threshold (same rules as the sweep). */
export function scoreFile(file: NabFile, threshold: number, p: NabProfile): FileResult {
  const { sweep, window } = sweepScores(file, p)
  const best = new Float64Array(file.windows.length).fill(NaN)
  let fpScore = 0
  let fp = 0
  for (let i = 0; i < sweep.length; i++) {
    if (window[i] === -2 || !(file.scores[i] >= threshold)) continue
    if (window[i] >= 0) {
      const w = window[i]
      if (Number.isNaN(best[w]) || sweep[i] > best[w]) best[w] = sweep[i]
    } else {
      fpScore += sweep[i]
      fp++
    }
  }
  let tp = 0
  let tpScore = 0
  for (const b of best) {
    if (Number.isNaN(b)) continue
    tp++
    tpScore += b
  }
  const fn = file.windows.length - tp
  return { name: file.name, windows: file.windows.length, tp, fp, fn, score: tpScore + fpScore - fn * p.fnWeight }
}

export interface Optimum {
  readonly threshold: number
  readonly raw: number
  readonly normalised: number
  readonly nullScore: number
  readonly perfectScore: number
}

/** NAB's threshold optimisation: the corpus score at every distinct anomaly score, best kept. */
export function optimiseThreshold(files: readonly NabFile[], p: NabProfile): Optimum {
  type Row = { score: number; sweep: number; window: number }
  const rows: Row[] = []
  let windowBase = 0
  for (const f of files) {
    const { sweep, window } = sweepScores(f, p)
    for (let i = 0; i < sweep.length; i++) {
      if (window[i] === -2) continue
      rows.push({ score: f.scores[i], sweep: sweep[i], window: window[i] >= 0 ? windowBase + window[i] : -1 })
    }
    windowBase += f.windows.length
  }
  const totalWindows = windowBase
  rows.sort((a, b) => b.score - a.score)
  const bestTp = new Float64Array(totalWindows).fill(NaN)
  let tpPart = 0
  let fpPart = 0
  let found = 0
  const nullScore = -p.fnWeight * totalWindows
  let best = { threshold: 1.1, raw: nullScore }
  for (let i = 0; i < rows.length; ) {
    const t = rows[i].score
    for (; i < rows.length && rows[i].score === t; i++) {
      const r = rows[i]
      if (r.window >= 0) {
        const prev = bestTp[r.window]
        if (Number.isNaN(prev)) {
          found++
          bestTp[r.window] = r.sweep
          tpPart += r.sweep
        } else if (r.sweep > prev) {
          tpPart += r.sweep - prev
          bestTp[r.window] = r.sweep
        }
      } else fpPart += r.sweep
    }
    const raw = tpPart + fpPart - (totalWindows - found) * p.fnWeight
    if (raw > best.raw) best = { threshold: t, raw }
  }
  const perfectScore = p.tpWeight * totalWindows
  const normalised = perfectScore === nullScore ? 0 : (100 * (best.raw - nullScore)) / (perfectScore - nullScore)
  return { threshold: best.threshold, raw: best.raw, normalised, nullScore, perfectScore }
}
