/**
 * Detector throughput on one core: points/s of each detector's in-place `step`, of its pure
 * `update`, of the default ensemble, and of the whole stage (facts/s), against naive baselines
 * (immutable per-point objects for the EWMA, sort-a-copy for the median/MAD) in the same run.
 *
 *   node dist/bench/detect.js [--points 2000000]
 *
 * Prints a table, then one JSON line {"bench":"detect",...}.
 */
import type { MetricFact } from '../schemas/index.js'
import {
  cusumDetector,
  defaultDetectorConfig,
  detectStage,
  driftDetector,
  flatDetector,
  rangeDetector,
  levelDetector,
  emptyReading,
  ewmaDetector,
  gaussian,
  madDetector,
  pcaDetector,
  seasonalDetector,
  type Detector,
  type Point,
} from '../processors/detect/index.js'

const argN = process.argv.indexOf('--points')
const N = argN >= 0 ? Number(process.argv[argN + 1]) : 1_000_000
const g = gaussian(1)
const ts = new Float64Array(N)
const xs = new Float64Array(N)
for (let i = 0; i < N; i++) {
  ts[i] = 1_700_000_000_000 + i * 300_000
  xs[i] = 10 + 5 * Math.sin((2 * Math.PI * (i % 288)) / 288) + g() + (i % 9973 === 0 ? 40 : 0)
}

/** Best of `reps` timed runs of fn(n); returns points per second. */
function measure(n: number, fn: (n: number) => number, reps = 3): number {
  let best = Infinity
  let sink = 0
  fn(Math.min(n, 50_000)) // warm the JIT
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    sink += fn(n)
    const dt = performance.now() - t0
    if (dt < best) best = dt
  }
  if (sink === -1) console.log(sink)
  return (n / best) * 1000
}

function inPlace<S>(d: Detector<S>): (n: number) => number {
  return (n) => {
    const s = d.init()
    const r = emptyReading()
    const p = { ts: 0, value: 0 }
    let acc = 0
    for (let i = 0; i < n; i++) {
      p.ts = ts[i]
      p.value = xs[i]
      d.step(s, p, r, 1)
      acc += r.score
    }
    return acc
  }
}

function pure<S>(d: Detector<S>): (n: number) => number {
  return (n) => {
    let s = d.init()
    let acc = 0
    for (let i = 0; i < n; i++) {
      const u = d.update(s, { ts: ts[i], value: xs[i] } as Point)
      s = u.state
      acc += u.score
    }
    return acc
  }
}

/** Naive EWMA z-score: a new state and result object per point, spread-copied. */
function naiveEwma(n: number): number {
  type S = { readonly mean: number; readonly variance: number; readonly history: readonly number[] }
  let s: S = { mean: xs[0], variance: 0, history: [] }
  let acc = 0
  for (let i = 0; i < n; i++) {
    const x = xs[i]
    const z = Math.abs(x - s.mean) / Math.max(Math.sqrt(s.variance), 1e-9)
    const diff = x - s.mean
    const res = {
      state: {
        ...s,
        mean: s.mean + 0.05 * diff,
        variance: 0.95 * (s.variance + diff * 0.05 * diff),
        history: s.history.length < 8 ? [...s.history, x] : [...s.history.slice(1), x],
      },
      score: z / (1 + z),
    }
    s = res.state
    acc += res.score
  }
  return acc
}

/** Naive rolling median/MAD: copy the window and sort it, twice, per point. */
function naiveMad(n: number): number {
  const w: number[] = []
  let acc = 0
  for (let i = 0; i < n; i++) {
    if (w.length >= 20) {
      const sorted = [...w].sort((a, b) => a - b)
      const med = sorted[sorted.length >> 1]
      const dev = w.map((v) => Math.abs(v - med)).sort((a, b) => a - b)
      acc += Math.abs(xs[i] - med) / Math.max(1.4826 * dev[dev.length >> 1], 1e-9)
    }
    w.push(xs[i])
    if (w.length > 120) w.shift()
  }
  return acc
}

const floors = { minSpread: 0, relSpread: 0.001 }
const rows: Array<{ name: string; pps: number; n: number }> = []
const run = (name: string, n: number, fn: (n: number) => number) => rows.push({ name, n, pps: measure(n, fn) })

run('ewma (step, in place)', N, inPlace(ewmaDetector({ alpha: 0.05, threshold: 6, warmup: 30, ...floors })))
run('cusum (step, in place)', N, inPlace(cusumDetector({ alpha: 0.01, k: 0.5, h: 10, clip: 4, warmup: 60, ...floors })))
run('seasonal (step)', N, inPlace(seasonalDetector({ periodMs: 86_400_000, slots: 288, alpha: 0.02, gamma: 0.2, beta: 0.02, threshold: 6, minSeasons: 2, ...floors })))
run('drift (step)', N, inPlace(driftDetector({ window: 288, bins: 16, threshold: 1, every: 8, boost: 2, halfLife: 144 })))
run('range (step)', N, inPlace(rangeDetector({ threshold: 0.05, halfLife: 30_000, alpha: 0.01, minZ: 2, warmup: 300 })))
run('level w=24 (step)', N, inPlace(levelDetector({ window: 24, threshold: 0.05, halfLife: 30_000, alpha: 0.01, minZ: 3, warmup: 300 })))
run('flat (step)', N, inPlace(flatDetector({ threshold: 1.5, minRun: 20, halfLife: 10_000, warmup: 100 })))
run('mad w=120 (step)', N / 4, inPlace(madDetector({ window: 120, threshold: 8, warmup: 30, ...floors })))
const pca = pcaDetector({ dim: 4, components: 1, alpha: 0.01, eta: 0.01, threshold: 6, warmup: 60 })
run('pca dim=4 k=1 (step)', N / 2, (n) => {
  const s = pca.init()
  const r = emptyReading()
  const v = new Float64Array(4)
  const p = { ts: 0, values: v }
  let acc = 0
  for (let i = 0; i < n; i++) {
    v[0] = xs[i]
    v[1] = 2 * xs[i]
    v[2] = xs[(i + 1) % n]
    v[3] = -xs[i]
    p.ts = ts[i]
    pca.step(s, p, r, 1)
    acc += r.score
  }
  return acc
})
run('ewma (pure update)', N / 4, pure(ewmaDetector({ alpha: 0.05, threshold: 6, warmup: 30, ...floors })))
run('naive ewma (allocating)', N / 4, naiveEwma)
run('naive mad w=120 (sort copies)', N / 40, naiveMad)

const cfg = defaultDetectorConfig()
const ensemble = cfg.value.resolve('bench', 'value')!.ensemble
run(`default ensemble [${ensemble.names.join('+')}]`, N / 2, (n) => {
  const s = ensemble.init()
  const r = ensemble.newReading()
  const p = { ts: 0, value: 0 }
  let acc = 0
  for (let i = 0; i < n; i++) {
    p.ts = ts[i]
    p.value = xs[i]
    ensemble.step(s, p, r)
    acc += r.score
  }
  return acc
})

const FACTS = 200_000
const SERIES = 100
const facts: MetricFact[] = Array.from({ length: FACTS }, (_, i) => ({
  id: `f${i}`,
  ts: ts[Math.floor(i / SERIES)],
  source: `node-${i % SERIES}`,
  lane: 'routine',
  kind: 'metric',
  payload: { name: 'cpu.load', value: xs[i], labels: { job: 'bench' } },
  lineage: [],
  producer: 'edge',
  config: {},
  explain: null,
  redactions: [],
}))
let anomalies = 0
run(`detect stage, ${SERIES} series (facts/s)`, FACTS, (n) => {
  let state = detectStage.initialState()
  let out = 0
  for (let i = 0; i < n; i++) {
    const r = detectStage.step(state, facts[i], cfg)
    state = r.state
    out += r.out.length
  }
  anomalies = out
  return out
})

const pad = (s: string, n: number) => s.padStart(n)
console.log(`${'detector'.padEnd(44)} ${pad('points', 10)} ${pad('points/s', 14)}`)
for (const r of rows) console.log(`${r.name.padEnd(44)} ${pad(String(r.n), 10)} ${pad(Math.round(r.pps).toLocaleString('en-US'), 14)}`)
const by = (prefix: string) => Math.round(rows.find((r) => r.name.startsWith(prefix))!.pps)
console.log(`\nstage run emitted ${anomalies} anomaly facts for ${FACTS} metric facts; node ${process.version}, one core`)
console.log(
  JSON.stringify({
    bench: 'detect',
    points: N,
    ewma_pps: by('ewma (step'),
    cusum_pps: by('cusum'),
    seasonal_pps: by('seasonal'),
    drift_pps: by('drift'),
    range_pps: by('range'),
    flat_pps: by('flat'),
    level_pps: by('level'),
    mad_pps: by('mad w'),
    pca_pps: by('pca'),
    ewma_pure_pps: by('ewma (pure'),
    naive_ewma_pps: by('naive ewma'),
    naive_mad_pps: by('naive mad'),
    ensemble_pps: by('default ensemble'),
    ensemble_target_pps: 300_000,
    stage_facts_per_s: by('detect stage'),
    ewma_speedup_vs_naive: Math.round((by('ewma (step') / by('naive ewma')) * 10) / 10,
    mad_speedup_vs_naive: Math.round((by('mad w') / by('naive mad')) * 10) / 10,
  }),
)
