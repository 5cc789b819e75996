import { describe, expect, it } from 'vitest'
import { FactCodec, type AnomalyFact, type MetricFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { loadDetectorConfig } from './config.js'
import { defaultDetectorConfig } from './default-config.js'
import { emptyReading, Floor, scoreOf, type Point } from './detector.js'
import { spikeDetector, type SpikeParams, type SpikeState } from './spike.js'
import { detectStage } from './stage.js'
import { gaussian, prng } from './synthetic.js'

const P: SpikeParams = { alpha: 0.01, threshold: 20, critical: 50, notable: 6, learn: 3, ratio: 5, halfLife: 2880, warmup: 1500, minSpread: 0, relSpread: 0.001 }

function run(points: readonly Point[], p: SpikeParams = P) {
  const d = spikeDetector(p)
  const s = d.init()
  const r = emptyReading()
  const hits: number[] = []
  const states: SpikeState[] = []
  const readings = points.map((pt, i) => {
    d.step(s, pt, r, 1)
    if (r.anomaly) hits.push(i)
    states.push({ ...s, pending: [...s.pending] })
    return { ...r }
  })
  return { hits, readings, states }
}

/** A calm series, 10 ± 0.5 sampled every second, with `bumps` added at given indices. */
function calm(n: number, bumps: ReadonlyArray<readonly [number, number]> = [], seed = 1): Point[] {
  const g = gaussian(seed)
  const at = new Map(bumps)
  return Array.from({ length: n }, (_, i) => ({ ts: 1_700_000_000_000 + i * 1000, value: 10 + 0.5 * g() + (at.get(i) ?? 0) }))
}

const T0 = 1_700_000_000_000
const fact = (i: number, value: number): MetricFact => ({
  id: `lat-${i}`,
  ts: T0 + i * 1000,
  source: 'api-1',
  lane: 'routine',
  kind: 'metric',
  payload: { name: 'http.latency_ms', value, labels: { route: '/login' } },
  lineage: [],
  producer: 'edge',
  config: {},
  explain: null,
  redactions: [],
})

describe('spike detector, shipped default config (stage)', () => {
  // 10 ± 0.5; at 1800 a single point 100 sd above (60), at 2100 one 6 sd above (13)
  const values = calm(2600).map((p, i) => (i === 1800 ? 60 : i === 2100 ? 13 : p.value))
  const facts = values.map((v, i) => fact(i, v))
  const { out, rejected } = stepAll(detectStage, facts, defaultDetectorConfig())
  const anomalies = out as AnomalyFact[]

  it('flags a single 100σ point on that very point, at least high, saying how many σ', () => {
    expect(rejected).toEqual([])
    const a = anomalies.find((f) => f.lineage[0] === facts[1800].id)
    expect(a).toBeDefined()
    if (!a) return
    const critical = defaultDetectorConfig().value.resolve('api-1', 'http.latency_ms')?.severity
    expect(['high', 'critical']).toContain(a.payload.severity)
    expect(a.payload.severity).toBe('critical') // 100σ ≥ the 50σ critical level
    expect(a.payload.score).toBeGreaterThanOrEqual(critical?.critical ?? 1)
    expect(a.payload.value).toBe(60)
    expect(a.payload.baseline.centre).toBeCloseTo(10, 0)
    const m = /^http\.latency_ms on api-1 was 60, ([\d.]+)σ above its baseline of ([\d.]+) ± ([\d.]+): a sudden spike from the point before it/.exec(a.explain ?? '')
    expect(m, a.explain ?? '').not.toBeNull()
    if (!m) return
    expect(Number(m[1])).toBeGreaterThan(80)
    expect(Number(m[1])).toBeLessThan(125)
    expect(Number(m[2])).toBeCloseTo(10, 0)
    expect(Number(m[3])).toBeGreaterThan(0.35)
    expect(Number(m[3])).toBeLessThan(0.65)
    const spike = a.payload.detectors.find((d) => d.name === 'spike')
    expect(spike?.raw).toBeGreaterThan(80)
  })

  it('says nothing before it or after it, when the series is back at its baseline, nor about a 6σ outlier', () => {
    expect(anomalies.map((f) => f.lineage[0])).toEqual([facts[1800].id])
  })

  it('the next spikes are reported too, whatever self-calibration says, until they are a pattern', () => {
    // 30σ at 1800 (high), then 100σ at 1900, 2000 (critical), 2100 (the fourth: a pattern)
    const bumps = new Map([
      [1800, 15],
      [1900, 50],
      [2000, 50],
      [2100, 50],
    ])
    const fs = calm(2400, [], 3).map((p, i) => fact(i, p.value + (bumps.get(i) ?? 0)))
    const got = stepAll(detectStage, fs, defaultDetectorConfig()).out as AnomalyFact[]
    expect(got.map((f) => [f.lineage[0], f.payload.severity])).toEqual([
      [fs[1800].id, 'high'],
      [fs[1900].id, 'critical'],
      [fs[2000].id, 'critical'],
    ])
    // self-calibration raised the spike member's threshold to 2x its recent peak (the 100σ before):
    // on its own the third would not even be an anomaly; the severity floor carried it
    const third = got[2].payload.detectors.find((d) => d.name === 'spike')
    expect(third && third.threshold).toBeGreaterThan(third?.raw ?? Infinity)
    expect(scoreOf(third?.raw ?? 0, third?.threshold ?? 0)).toBeLessThan(0.35)
  })

  it('is in the shipped default and off in the built-in floor; its config is validated', () => {
    expect(defaultDetectorConfig().value.resolve('api-1', 'http.latency_ms')?.ensemble.names).toContain('spike')
    const floor = loadDetectorConfig('')
    expect(floor.ok && floor.value.resolve('a', 'b')?.ensemble.names).not.toContain('spike')
    const on = loadDetectorConfig('detectors: { spike: { enabled: true, warmup: 200 } }')
    expect(on.ok && on.value.resolve('a', 'b')?.ensemble.names).toContain('spike')
    const bad = loadDetectorConfig('detectors: { spike: { ratio: 0.5 } }')
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.error.message).toContain('detectors.spike.ratio')
  })

  it('its anomaly fact round-trips the Avro codec', () => {
    const codec = new FactCodec()
    for (const f of anomalies) {
      const enc = codec.encode(f)
      const dec = codec.decode(enc.data, enc.fingerprint)
      expect(dec.ok && dec.value).toEqual(f)
    }
  })
})

describe('spike detector', () => {
  it('high from the threshold, critical from the critical level; a 6σ or 15σ outlier is not a spike', () => {
    // bumps in value units: the noise sd is 0.5
    const at = (bump: number) => run(calm(2000, [[1800, bump]]))
    for (const bump of [3, 7.5]) {
      const r = at(bump)
      expect(r.hits).toEqual([])
      expect(r.readings[1800].raw).toBe(0)
    }
    const high = at(15)
    expect(high.hits).toEqual([1800])
    expect(high.readings[1800].floor).toBe(Floor.High)
    expect(high.readings[1800].raw).toBeGreaterThan(20)
    expect(high.readings[1800].raw).toBeLessThan(50)
    const critical = at(30)
    expect(critical.hits).toEqual([1800])
    expect(critical.readings[1800].floor).toBe(Floor.Critical)
    expect(critical.readings[1800].direction).toBe(1)
    // downward spikes too
    const down = at(-40)
    expect(down.hits).toEqual([1800])
    expect(down.readings[1800].direction).toBe(-1)
  })

  it('outliers below the threshold count as the series showing spikes: after three, only a much larger one is news', () => {
    // 6σ, 15σ and a 30σ spike (reported): the series has shown three; 60σ is 2x the largest, 300σ 10x
    const { hits } = run(
      calm(3000, [
        [1600, 3],
        [1700, 7.5],
        [1900, 15],
        [2300, 30],
        [2600, 150],
      ]),
    )
    expect(hits).toEqual([1900, 2600])
  })

  it('a spike does not poison the baseline: the points after it are judged as before, and a second spike is seen at full size', () => {
    const clean = run(calm(2400))
    const { hits, readings, states } = run(
      calm(2400, [
        [1800, 90],
        [1850, 90],
      ]),
    )
    expect(hits).toEqual([1800, 1850])
    // the baseline after the spike is the baseline without it (clipped at 3 sd when learned)
    const sdWith = Math.sqrt(states[1840].variance)
    const sdWithout = Math.sqrt(clean.states[1840].variance)
    expect(sdWith / sdWithout).toBeGreaterThan(0.95)
    expect(sdWith / sdWithout).toBeLessThan(1.1)
    expect(Math.abs(states[1840].mean - clean.states[1840].mean)).toBeLessThan(0.05)
    expect(readings[1850].raw).toBeGreaterThan(0.9 * readings[1800].raw)
  })

  it('a spike on top of a moderate bump is still one; a run that creeps over the threshold is not', () => {
    const { hits } = run(
      calm(2200, [
        [1800, 5],
        [1801, 50],
        [2000, 8.5],
        [2001, 10.5],
        [2002, 11],
      ]),
    )
    expect(hits).toEqual([1801])
  })

  it('a burst of two reports once and leaves the baseline as it was', () => {
    const clean = run(calm(2200))
    const { hits, states } = run(
      calm(2200, [
        [1800, 80],
        [1801, 70],
      ]),
    )
    expect(hits).toEqual([1800])
    expect(Math.sqrt(states[1900].variance) / Math.sqrt(clean.states[1900].variance)).toBeLessThan(1.1)
  })

  it('spikes at a regular cadence: the first three are reported, then they are a pattern; a much larger one is news again', () => {
    const at = [1600, 1900, 2200, 2500, 2800, 3100]
    const { hits } = run(calm(3600, [...at.map((i) => [i, 90] as const), [3400, 600]]))
    expect(hits).toEqual([1600, 1900, 2200, 3400])
  })

  it('a series that spikes by nature (1 % of points, from the start) is never reported', () => {
    const g = gaussian(8)
    const u = prng(9)
    const pts = Array.from({ length: 6000 }, (_, i) => ({ ts: i * 150, value: 3 + 0.5 * Math.abs(g()) + (u() < 0.01 ? -12 * Math.log(1 - u()) : 0) }))
    const { hits, states } = run(pts)
    expect(states[5999].seen).toBeGreaterThan(P.learn)
    expect(hits).toEqual([])
  })

  it('a level shift is reported on its first point at most, not while it lasts nor on the way back', () => {
    const pts = calm(4000).map((p, i) => ({ ts: p.ts, value: p.value + (i >= 2000 && i < 2600 ? 80 : 0) }))
    const { hits } = run(pts)
    expect(hits).toEqual([2000])
  })

  it('says nothing during its warm-up, but remembers the outliers it saw', () => {
    const { hits, states } = run(
      calm(1600, [
        [400, 100],
        [800, 100],
        [1200, 100],
      ]),
    )
    expect(hits).toEqual([])
    expect(states[1599].seen).toBeGreaterThan(2)
  })

  it('a constant series: its first departure is a spike, and it learns it in full', () => {
    const pts = Array.from({ length: 4000 }, (_, i) => ({ ts: i * 1000, value: i % 400 === 399 && i > 1500 ? 1 : 0 }))
    const { hits } = run(pts)
    expect(hits.length).toBeGreaterThanOrEqual(1)
    expect(hits.length).toBeLessThanOrEqual(P.learn)
    expect(hits[0]).toBe(1599)
  })
})
