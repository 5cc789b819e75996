import fc from 'fast-check'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { derivedId, FactCodec, type AnomalyFact, type MetricFact } from '../../schemas/index.js'
import { stepAll, type Emission, type Versioned } from '../stage.js'
import { loadDetectorConfig, type DetectorConfig } from './config.js'
import { defaultDetectorConfig } from './default-config.js'
import { detect, detectStage } from './stage.js'
import { gaussian } from './synthetic.js'

const T0 = Date.UTC(2025, 0, 1)
const cfgOf = (yaml: string, revision = 3): Versioned<DetectorConfig> => {
  const r = loadDetectorConfig(yaml)
  if (!r.ok) throw new Error(r.error.message)
  return { bucket: 'ben-detectors', revision, value: r.value }
}
const EWMA_ONLY = `
ensemble: { warmup: 20 }
detectors:
  ewma: { threshold: 5, warmup: 20, alpha: 0.1 }
  cusum: { enabled: false }
  mad: { enabled: false }
  shift: { enabled: false }
  drift: { enabled: false }
limits: { maxLateness: 2m, maxSeries: 4 }
`
const cfg = cfgOf(EWMA_ONLY)

function metric(i: number, value: number, o: { source?: string; name?: string; ts?: number; labels?: Record<string, string> } = {}): MetricFact {
  return {
    id: `m-${o.source ?? 'web-3'}-${o.name ?? 'cpu.load'}-${i}`,
    ts: o.ts ?? T0 + i * 60_000,
    source: o.source ?? 'web-3',
    lane: 'routine',
    kind: 'metric',
    payload: { name: o.name ?? 'cpu.load', value, labels: o.labels ?? { job: 'batch-7' } },
    lineage: [],
    producer: 'edge',
    config: {},
    explain: null,
    redactions: [],
  }
}

/** A noisy series around 1.2 with a spike at `spikeAt`. */
function noisy(n: number, spikeAt = -1, o: Parameters<typeof metric>[2] = {}): MetricFact[] {
  const g = gaussian(42)
  return Array.from({ length: n }, (_, i) => metric(i, i === spikeAt ? 9.7 : 1.2 + 0.1 * g(), o))
}

const summary = (e: Emission<MetricFact>): string => (e.rejected ? `R:${e.rejected.reason}` : e.out.length ? `A:${(e.out[0] as AnomalyFact).payload.severity}` : '-')
const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b))

describe('detect operator (marbles)', () => {
  it('passes normal points through and emits an anomaly for the spike', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const facts = noisy(36, 32)
      const warm = stepAll(detectStage, facts.slice(0, 30), cfg).state
      const values = Object.fromEntries(facts.slice(30).map((f, i) => ['abcdef'[i], f]))
      const src = cold('a-b-c-d-e-f|', values)
      expectObservable(
        src.pipe(
          detect(() => cfg, warm),
          map(summary),
        ),
      ).toBe('a-b-c-d-e-f|', { a: '-', b: '-', c: 'A:critical', d: '-', e: '-', f: '-' })
    })
  })

  it('rejects NaN and Infinity with a reason and keeps going', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abc|', { a: metric(0, 1), b: metric(1, Number.NaN), c: metric(2, Number.POSITIVE_INFINITY) })
      expectObservable(
        src.pipe(
          detect(() => cfg),
          map(summary),
        ),
      ).toBe('abc|', { a: '-', b: 'R:invalid', c: 'R:invalid' })
    })
  })

  it('unsubscribing stops the upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('a-b-c-d-e|', { a: metric(0, 1), b: metric(1, 1), c: metric(2, 1), d: metric(3, 1), e: metric(4, 1) })
      expectObservable(
        src.pipe(
          detect(() => cfg),
          map(summary),
        ),
        '^--!',
      ).toBe('a-b', { a: '-', b: '-' })
      expectSubscriptions(src.subscriptions).toBe('^--!')
    })
  })

  it('event-time lateness window: a point within maxLateness is scored, an older one is rejected', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const base = noisy(30).slice(22)
      const late1 = metric(100, 1.2, { ts: base[7].ts - 60_000 })
      const late3 = metric(101, 1.2, { ts: base[7].ts - 180_000 })
      const src = cold('(abcdefgh)-x-y|', { ...Object.fromEntries(base.map((f, i) => ['abcdefgh'[i], f])), x: late1, y: late3 })
      const warm = stepAll(detectStage, noisy(22), cfg).state
      expectObservable(
        src.pipe(
          detect(() => cfg, warm),
          map(summary),
        ),
      ).toBe('(abcdefgh)-x-y|', { a: '-', b: '-', c: '-', d: '-', e: '-', f: '-', g: '-', h: '-', x: '-', y: 'R:invalid' })
    })
  })
})

describe('detectStage', () => {
  it('builds a complete anomaly fact with lineage, id, explain and a detector breakdown', () => {
    const facts = noisy(40, 30)
    const { out } = stepAll(detectStage, facts, cfg)
    expect(out).toHaveLength(1)
    const a = out[0] as AnomalyFact
    expect(a.id).toBe(derivedId('detect', detectStage.version, 3, [facts[30].id]))
    expect(a).toMatchObject({
      kind: 'anomaly',
      lane: 'anomaly',
      ts: facts[30].ts,
      source: 'web-3',
      lineage: [facts[30].id],
      producer: `detect@${detectStage.version}`,
      config: { 'ben-detectors': 3 },
    })
    expect(a.payload).toMatchObject({ metric: 'cpu.load', value: 9.7, threshold: 0.5, labels: { job: 'batch-7' }, severity: 'critical' })
    expect(a.payload.score).toBeGreaterThan(0.985)
    expect(a.payload.score).toBeLessThanOrEqual(1)
    expect(a.payload.detectors.map((d) => d.name)).toEqual(['ewma'])
    expect(a.payload.detectors[0].raw).toBeGreaterThan(a.payload.detectors[0].threshold)
    expect(a.payload.baseline.centre).toBeCloseTo(1.2, 0)
    expect(a.explain).toMatch(/^cpu\.load on web-3 was 9\.7, [\d.]+σ above its EWMA baseline of 1\.[12]\d* ± 0\.\d+ \(score [\d.]+ ≥ 0\.5, critical\)\.$/)
  })

  it('anomaly facts round-trip the Avro codec', () => {
    const codec = new FactCodec()
    const { out } = stepAll(detectStage, noisy(40, 30), defaultDetectorConfig())
    const { out: o2 } = stepAll(detectStage, noisy(40, 30), cfg)
    const all = [...out, ...o2]
    expect(all.length).toBeGreaterThan(0)
    for (const f of all) {
      const enc = codec.encode(f)
      const dec = codec.decode(enc.data, enc.fingerprint)
      expect(dec.ok).toBe(true)
      if (dec.ok) expect(dec.value).toEqual(f)
    }
  })

  it('keeps series apart by source, name and labels', () => {
    const a = noisy(40, 30, { labels: { job: 'a' } })
    const b = noisy(40, -1, { labels: { job: 'b' } }).map((f) => ({ ...f, id: f.id + 'b' }))
    const { state, out } = stepAll(
      detectStage,
      a.flatMap((f, i) => [f, b[i]]),
      cfg,
    )
    expect(state.series.size).toBe(2)
    expect(out.map((f) => f.lineage[0])).toEqual([a[30].id])
  })

  it('bounds the number of series, evicting the least recently updated by event time', () => {
    const facts = ['s1', 's2', 's3', 's4', 's5'].map((s, i) => metric(i, 1, { source: s, ts: T0 + (i === 0 ? 10 : i) * 60_000 }))
    const { state } = stepAll(detectStage, facts, cfg)
    expect(state.series.size).toBe(4)
    expect(state.evicted).toBe(1)
    expect([...state.series.values()].map((r) => r.source).sort()).toEqual(['s1', 's3', 's4', 's5'])
  })

  it('a new config revision with other settings resets the series; ids follow the revision', () => {
    const facts = noisy(60, 55)
    const first = stepAll(detectStage, facts.slice(0, 30), cfg)
    const other = cfgOf(EWMA_ONLY.replace('threshold: 5', 'threshold: 6'), 4)
    const rest = stepAll(detectStage, facts.slice(30), other, first.state)
    expect(rest.state.series.values().next().value?.ens.n).toBe(30)
    expect(rest.out).toHaveLength(1)
    expect(rest.out[0].id).toBe(derivedId('detect', detectStage.version, 4, [facts[55].id]))
    expect(rest.out[0].config).toEqual({ 'ben-detectors': 4 })
  })

  it('ignores series a rule disables, without rejecting them', () => {
    const off = cfgOf(EWMA_ONLY + 'rules:\n  - match: { metric: cpu.* }\n    enabled: false\n')
    const r = stepAll(detectStage, noisy(40, 30), off)
    expect(r.out).toEqual([])
    expect(r.rejected).toEqual([])
    expect(r.state.series.size).toBe(0)
  })

  it('scores multivariate groups with streaming PCA', () => {
    const group = cfgOf(`
detectors: { ewma: { enabled: false }, cusum: { enabled: false }, mad: { enabled: false }, drift: { enabled: false } }
groups:
  - name: host
    metrics: [cpu.load, net.in]
    pca: { components: 1, threshold: 6, warmup: 50 }
`)
    const g = gaussian(8)
    const facts: MetricFact[] = []
    for (let i = 0; i < 600; i++) {
      const load = 5 + 2 * g()
      const net = i === 500 ? 10 - 2 * load : 2 * load + 0.1 * g()
      facts.push(metric(i, net, { name: 'net.in' }), metric(i, load, { name: 'cpu.load' }))
    }
    const { out } = stepAll(detectStage, facts, group)
    const hits = out.map((f) => (f as AnomalyFact).payload)
    expect(hits.map((p) => p.metric)).toContain('group:host')
    expect(out.some((f) => f.lineage[0] === facts[1001].id)).toBe(true)
    expect(out[0].explain).toContain('stopped moving together')
  })
})

const arbFact = fc.record({
  i: fc.nat(10_000),
  source: fc.constantFrom('web-1', 'web-2'),
  name: fc.constantFrom('cpu.load', 'mem.used'),
  dt: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 120_000 }) }, fc.integer({ min: -300_000, max: 0 })),
  value: fc.oneof(
    { weight: 40, arbitrary: fc.double({ min: 9, max: 11, noNaN: true }) },
    { weight: 2, arbitrary: fc.double({ min: 100, max: 1e4, noNaN: true }) },
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1e300, -0, 0),
  ),
})
const toFacts = (xs: Array<{ i: number; source: string; name: string; dt: number; value: number }>): MetricFact[] => {
  let ts = T0
  return xs.map((x, k) => {
    ts += x.dt
    return metric(k * 10_000 + x.i, x.value, { source: x.source, name: x.name, ts })
  })
}
const CONFIGS = [cfg, defaultDetectorConfig()]

describe('properties', () => {
  it('same facts + same revision → byte-identical output', () => {
    const codec = new FactCodec()
    let emitted = 0
    fc.assert(
      fc.property(fc.array(arbFact, { minLength: 100, maxLength: 400 }), fc.constantFrom(0, 1), (xs, c) => {
        const facts = toFacts(xs)
        const a = stepAll(detectStage, facts, CONFIGS[c])
        emitted += a.out.length
        const b = stepAll(detectStage, facts, CONFIGS[c])
        expect(JSON.stringify(a.out)).toBe(JSON.stringify(b.out))
        expect(a.out.map((f) => Buffer.from(codec.encode(f).data).toString('hex'))).toEqual(b.out.map((f) => Buffer.from(codec.encode(f).data).toString('hex')))
        expect(JSON.stringify(a.rejected)).toBe(JSON.stringify(b.rejected))
      }),
      { numRuns: 40 },
    )
    expect(emitted).toBeGreaterThan(0)
  })

  it('serialize → JSON → deserialize → continue equals an uninterrupted run', () => {
    let emitted = 0
    fc.assert(
      fc.property(fc.array(arbFact, { minLength: 100, maxLength: 400 }), fc.nat(), fc.constantFrom(0, 1), (xs, cut, c) => {
        const facts = toFacts(xs)
        const k = cut % facts.length
        const whole = stepAll(detectStage, facts, CONFIGS[c])
        emitted += whole.out.length
        const head = stepAll(detectStage, facts.slice(0, k), CONFIGS[c])
        const restored = detectStage.deserialize!(JSON.parse(JSON.stringify(detectStage.serialize!(head.state))))
        const tail = stepAll(detectStage, facts.slice(k), CONFIGS[c], restored)
        expect(JSON.stringify([...head.out, ...tail.out])).toBe(JSON.stringify(whole.out))
        expect(JSON.stringify(detectStage.serialize!(tail.state))).toBe(JSON.stringify(detectStage.serialize!(whole.state)))
      }),
      { numRuns: 40 },
    )
    expect(emitted).toBeGreaterThan(0)
  })

  it('step never throws, whatever the input', () => {
    const junk = fc.record({
      id: fc.oneof(fc.string(), fc.anything()),
      ts: fc.oneof(fc.double(), fc.anything()),
      source: fc.oneof(fc.string(), fc.anything()),
      kind: fc.constant('metric'),
      payload: fc.oneof(fc.anything(), fc.record({ name: fc.anything(), value: fc.anything(), labels: fc.anything() })),
    })
    fc.assert(
      fc.property(fc.array(junk, { maxLength: 50 }), (xs) => {
        let state = detectStage.initialState()
        for (const x of xs) {
          const r = detectStage.step(state, x as unknown as MetricFact, CONFIGS[1])
          state = r.state
          for (const f of r.out) expect(Number.isFinite((f as AnomalyFact).payload.score)).toBe(true)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('never-throws holds on valid facts too, and every output round-trips Avro', () => {
    const codec = new FactCodec()
    fc.assert(
      fc.property(fc.array(arbFact, { maxLength: 200 }), (xs) => {
        const r = stepAll(detectStage, toFacts(xs), CONFIGS[0])
        for (const f of r.out) {
          const enc = codec.encode(f)
          const dec = codec.decode(enc.data, enc.fingerprint)
          expect(dec.ok && dec.value).toEqual(f)
        }
      }),
      { numRuns: 30 },
    )
  })
})
