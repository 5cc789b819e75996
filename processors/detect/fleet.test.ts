import { describe, expect, it } from 'vitest'
import { FactCodec, parseEdgeFact, type AnomalyFact, type MetricFact } from '../../schemas/index.js'
import { createFleet, scenarioByName, type FleetOptionsInput, type ScenarioTruth } from '../../simulate/index.js'
import { defaultDetectorConfig } from './default-config.js'
import { stepAll } from '../stage.js'
import { detectStage } from './stage.js'

/**
 * The shipped default config against the simulated fleet (simulate/): what an operator sees.
 * 5 hosts at 300 facts/s is one metric point per series every ~146 ms, so 10 minutes of event
 * time is ~4 100 points per series, 34 healthy series, ~5.7 series-hours.
 */
const START = Date.UTC(2026, 10, 21, 19, 30)
const TEN_MINUTES = 600_000

interface Series {
  readonly source: string
  readonly metric: string
  readonly labels: Readonly<Record<string, string>>
  readonly points: MetricFact[]
  readonly anomalies: Array<{ index: number; fact: AnomalyFact }>
}

/** Runs the fleet's metric facts for `untilMs` of event time through the detect stage, by series. */
function runFleet(opts: FleetOptionsInput, untilMs: number): { series: Map<string, Series>; truth: readonly ScenarioTruth[] } {
  const fleet = createFleet(opts)
  const config = defaultDetectorConfig()
  let state = detectStage.initialState()
  const series = new Map<string, Series>()
  for (const edge of fleet.next(START + untilMs)) {
    if (edge.lane !== 'metric') continue
    const parsed = parseEdgeFact(edge)
    if (!parsed.ok) throw new Error(parsed.error.message)
    const fact = parsed.value as MetricFact
    const key = `${fact.source} ${fact.payload.name} ${JSON.stringify(fact.payload.labels)}`
    let s = series.get(key)
    if (!s) series.set(key, (s = { source: fact.source, metric: fact.payload.name, labels: fact.payload.labels, points: [], anomalies: [] }))
    s.points.push(fact)
    const r = detectStage.step(state, fact, config)
    state = r.state
    // (a throw, not expect(): this runs for up to 720,000 points a case)
    if (r.rejected) throw new Error(`rejected: ${JSON.stringify(r.rejected)}`)
    for (const a of r.out) s.anomalies.push({ index: s.points.length - 1, fact: a as AnomalyFact })
  }
  return { series, truth: fleet.scenarios() }
}

const scenario = (name: string) => {
  const r = scenarioByName(name)
  if (!r.ok) throw r.error
  return r.value
}

const runaway = runFleet({ hosts: 5, seed: '7', startTs: START, rate: 300, durationMs: 90_000, scenarios: [scenario('cpu-runaway')] }, TEN_MINUTES)
const runawayTruth = runaway.truth[0]
const isRunaway = (s: Series) => s.source === runawayTruth.source && s.metric === 'cpu.load' && s.labels.job === runawayTruth.job

describe('detect on the simulated fleet, shipped default config', () => {
  it('flags a cpu runaway as critical within 3 points of its start, saying how far above the baseline it was', () => {
    expect(runawayTruth.kind).toBe('cpu-runaway')
    const s = [...runaway.series.values()].find(isRunaway)
    expect(s).toBeDefined()
    if (!s) return
    const start = s.points.findIndex((p) => p.ts >= runawayTruth.startTs)
    expect(start).toBeGreaterThan(100) // past the detectors' warm-up
    expect(s.anomalies.filter((a) => a.index < start)).toEqual([])
    const first = s.anomalies[0]
    expect(first).toBeDefined()
    expect(first.index - start).toBeLessThanOrEqual(3)
    const p = first.fact.payload
    const critical = defaultDetectorConfig().value.resolve(s.source, 'cpu.load')?.severity.critical ?? 1
    expect(p.severity).toBe('critical')
    expect(p.score).toBeGreaterThanOrEqual(critical)
    expect(p.metric).toBe('cpu.load')
    expect(p.labels).toEqual({ job: runawayTruth.job })
    expect(p.value).toBeGreaterThan(2)
    expect(p.baseline.centre).toBeLessThan(1.6)
    const m = /^cpu\.load on (\S+) was ([\d.]+), ([\d.]+)σ above its baseline of ([\d.]+) ± ([\d.]+)/.exec(first.fact.explain ?? '')
    expect(m, first.fact.explain ?? '').not.toBeNull()
    if (!m) return
    expect(m[1]).toBe(runawayTruth.source)
    expect(Number(m[3])).toBeGreaterThanOrEqual(10)
    expect(Number(m[4])).toBeCloseTo(p.baseline.centre, 1)
    // a runaway is one event, not one anomaly per point while it lasts
    expect(s.anomalies.length).toBeLessThanOrEqual(5)
  })

  it('flags a runaway that comes back as critical again', () => {
    const { series, truth } = runFleet(
      { hosts: 5, seed: '7', startTs: START, rate: 300, durationMs: 90_000, scenarios: [{ kind: 'cpu-runaway', repeat: { afterMs: 60_000 } }] },
      180_000,
    )
    expect(truth.map((t) => t.episode)).toEqual([1, 2])
    const s = [...series.values()].find((x) => x.source === truth[0].source && x.metric === 'cpu.load' && x.labels.job === truth[0].job)
    for (const t of truth) {
      const start = s?.points.findIndex((p) => p.ts >= t.startTs) ?? -1
      const first = s?.anomalies.find((a) => a.index >= start)
      expect(first && first.index - start).toBeLessThanOrEqual(3)
      expect(first?.fact.payload.severity).toBe('critical')
    }
  })

  it('keeps healthy series quiet: under one low anomaly per series-hour, none high or critical', () => {
    const healthy = [...runaway.series.values()].filter((s) => !isRunaway(s))
    expect(healthy.length).toBe(34)
    const seriesHours = (healthy.length * TEN_MINUTES) / 3_600_000
    const all = healthy.flatMap((s) => s.anomalies.map((a) => a.fact))
    expect(all.length).toBeLessThan(seriesHours)
    expect(all.filter((a) => a.payload.severity === 'high' || a.payload.severity === 'critical').map((a) => a.explain)).toEqual([])
    // the series did reach the point where the detectors may speak
    for (const s of healthy) expect(s.points.length).toBeGreaterThan(4000)
  })

  it('a healthy fleet as `ben simulate` makes it (50 hosts, 200 facts/s, 1 hour): at most 0.1 anomalies of medium or above per series-day', () => {
    const hour = 3_600_000
    const { series } = runFleet({ hosts: 50, seed: '11', startTs: START, rate: 200, durationMs: hour }, hour)
    const all = [...series.values()]
    expect(all.length).toBeGreaterThanOrEqual(300)
    const seriesDays = (all.length * hour) / 86_400_000
    const loud = all.flatMap((s) => s.anomalies.map((a) => a.fact)).filter((a) => a.payload.severity !== 'low')
    expect(loud.length / seriesDays, loud.map((a) => a.explain).join('\n')).toBeLessThanOrEqual(0.1)
    // 720,000 points through the detectors: ~40 s alone, 259 s at load 25 on 2 cores.
  }, 900_000)

  it('names the drifting metric in at least one anomaly once the drift has begun', () => {
    const { series, truth } = runFleet({ hosts: 5, seed: '7', startTs: START, rate: 300, durationMs: TEN_MINUTES, scenarios: [scenario('drift')] }, TEN_MINUTES)
    const t = truth[0]
    expect(t.kind).toBe('drift')
    const target = [...series.values()].find((s) => s.source === t.source && s.metric === t.metric)
    expect(target).toBeDefined()
    const hits = target?.anomalies ?? []
    expect(hits.length).toBeGreaterThanOrEqual(1)
    for (const h of hits) {
      expect(h.fact.ts).toBeGreaterThanOrEqual(t.startTs)
      expect(h.fact.payload.metric).toBe(t.metric)
      expect(h.fact.explain).toContain(`${t.metric} on ${t.source}`)
    }
    const others = [...series.values()].filter((s) => s !== target).flatMap((s) => s.anomalies.map((a) => a.fact))
    expect(others.filter((a) => a.payload.severity === 'high' || a.payload.severity === 'critical')).toEqual([])
  })

  it('flags a single 100σ spike injected into a healthy series on that point, and changes nothing else', () => {
    const healthy = [...runaway.series.values()].filter((s) => !isRunaway(s) && s.source !== runawayTruth.source)
    for (const metric of ['cpu.load', 'mem.used_pct', 'http.req_rate', 'net.in_bytes']) {
      const s = healthy.find((x) => x.metric === metric)
      expect(s, metric).toBeDefined()
      if (!s) continue
      const at = 3000
      const before = s.points.slice(at - 300, at).map((p) => p.payload.value)
      const mean = before.reduce((a, v) => a + v, 0) / before.length
      const sd = Math.sqrt(before.reduce((a, v) => a + (v - mean) ** 2, 0) / before.length)
      const spiked = s.points.map((p, i) => (i === at ? { ...p, payload: { ...p.payload, value: mean + 100 * sd } } : p))
      const ids = (facts: readonly MetricFact[]) => stepAll(detectStage, facts, defaultDetectorConfig()).out.map((f) => f.lineage[0])
      const plain = ids(s.points)
      const out = stepAll(detectStage, spiked, defaultDetectorConfig()).out as AnomalyFact[]
      const hit = out.find((f) => f.lineage[0] === spiked[at].id)
      expect(hit?.payload.severity, metric).toMatch(/^(high|critical)$/)
      expect(hit?.explain, metric).toMatch(/σ above its baseline of .*: a sudden spike/)
      // the points after it are judged as if it had not been there
      expect(
        out.map((f) => f.lineage[0]).filter((id) => id !== spiked[at].id),
        metric,
      ).toEqual(plain)
    }
  })

  it('fleet anomalies round-trip the Avro codec', () => {
    const codec = new FactCodec()
    const facts = [...runaway.series.values()].flatMap((s) => s.anomalies.map((a) => a.fact))
    expect(facts.length).toBeGreaterThan(0)
    for (const f of facts) {
      const enc = codec.encode(f)
      const dec = codec.decode(enc.data, enc.fingerprint)
      expect(dec.ok && dec.value).toEqual(f)
    }
  })
})
