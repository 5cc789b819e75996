/**
 * Deterministic synthetic series for tests and benchmarks (seeded PRNG: no Math.random, so
 * every run sees the same numbers).
 */

/** mulberry32: a small, fast, seeded 32-bit PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal variates by Box-Muller from a seeded PRNG. */
export function gaussian(seed: number): () => number {
  const u = prng(seed)
  return () => {
    const a = u() || 1e-12
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u())
  }
}

export interface SeriesSpec {
  readonly n: number
  readonly seed?: number
  /** Sampling step in ms (default 5 minutes) and first timestamp (default 2024-01-01). */
  readonly stepMs?: number
  readonly start?: number
  readonly level?: number
  readonly noise?: number
  /** Daily sinusoid amplitude (0 = none), period in ms (default a day). */
  readonly amplitude?: number
  readonly periodMs?: number
  /** value += size at these indices (single-point spikes). */
  readonly spikes?: ReadonlyArray<readonly [index: number, size: number]>
  /** value += size from this index on. */
  readonly shift?: readonly [index: number, size: number]
}

export interface SyntheticPoint {
  readonly ts: number
  readonly value: number
}

export function series(spec: SeriesSpec): SyntheticPoint[] {
  const g = gaussian(spec.seed ?? 1)
  const step = spec.stepMs ?? 300_000
  const start = spec.start ?? Date.UTC(2024, 0, 1)
  const period = spec.periodMs ?? 86_400_000
  const out: SyntheticPoint[] = []
  for (let i = 0; i < spec.n; i++) {
    const ts = start + i * step
    let v = (spec.level ?? 10) + (spec.noise ?? 1) * g()
    if (spec.amplitude) v += spec.amplitude * Math.sin((2 * Math.PI * (ts % period)) / period)
    if (spec.shift && i >= spec.shift[0]) v += spec.shift[1]
    out.push({ ts, value: v })
  }
  for (const [i, size] of spec.spikes ?? []) if (i < out.length) out[i] = { ts: out[i].ts, value: out[i].value + size }
  return out
}
