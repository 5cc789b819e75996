import fc from 'fast-check'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { FactCodec, type AlertFact, type AnomalyFact, type DecisionFact } from '../../schemas/index.js'
import { stepAll, type Emission } from '../stage.js'
import { defaultPack, policy, policyStage, type PolicyInput } from './index.js'
import { alert, anomaly } from '../../test/fixtures/policy.js'

const dp = defaultPack()
if (!dp.ok) throw dp.error
const cfg = { bucket: 'ben-policy', revision: 5, value: dp.value }
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

/** One letter per emission: outcome (+ suppressed count), or the rejection reason. */
const summary = (e: Emission<PolicyInput>): string => {
  if (e.rejected) return `${e.input.id}:${e.rejected.reason}`
  const d = e.out[0] as DecisionFact | undefined
  return d ? `${e.input.id}:${d.payload.outcome}${d.payload.suppressed ? `+${d.payload.suppressed}` : ''}` : `${e.input.id}:none`
}

describe('policy operator (marbles)', () => {
  it('happy path: one decision per fact, in order, state carried between facts', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('-a-b-c|', { a: anomaly('a', 0), b: alert('b', 1_000), c: anomaly('c', 2_000, { severity: 'low' }) })
      expectObservable(
        src.pipe(
          policy(() => cfg),
          map(summary),
        ),
      ).toBe('-a-b-c|', { a: 'a:act', b: 'b:propose', c: 'c:none' })
    })
  })

  it('reject path: a bad fact is emitted as rejected and the stream goes on', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const bad = { ...anomaly('bad', 0), ts: 1.5 } as AnomalyFact
      const src = cold('-x-a|', { x: bad, a: anomaly('a', 0) })
      expectObservable(
        src.pipe(
          policy(() => cfg),
          map(summary),
        ),
      ).toBe('-x-a|', { x: 'bad:invalid', a: 'a:act' })
    })
  })

  it('event-time window: repeats inside the suppression window fold, after it a new decision is made', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const MIN = 60_000
      const src = cold('abcd|', { a: anomaly('a', 0), b: anomaly('b', 1 * MIN), c: anomaly('c', 9 * MIN), d: anomaly('d', 10 * MIN) })
      expectObservable(
        src.pipe(
          policy(() => cfg),
          map(summary),
        ),
      ).toBe('abcd|', { a: 'a:act', b: 'b:act+1', c: 'c:act+2', d: 'd:act' })
    })
  })

  it('hot-reloads the pack between facts', () => {
    scheduler().run(({ cold, expectObservable }) => {
      let current = cfg
      const src = cold('-a-b|', { a: anomaly('a', 0, { severity: 'high' }), b: anomaly('b', 1, { severity: 'high', source: 'web-9' }) })
      const revs = src.pipe(
        policy(() => current),
        map((e) => {
          const r = String((e.out[0] as DecisionFact).payload.packRevision)
          current = { ...cfg, revision: 6 }
          return r
        }),
      )
      expectObservable(revs).toBe('-a-b|', { a: '5', b: '6' })
    })
  })

  it('unsubscribing stops the upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-c-|', { a: anomaly('a', 0), b: anomaly('b', 1), c: anomaly('c', 2) })
      expectObservable(
        src.pipe(
          policy(() => cfg),
          map(summary),
        ),
        '^--!',
      ).toBe('-a-', { a: 'a:act' })
      expectSubscriptions(src.subscriptions).toBe('^--!')
    })
  })
})

const severities = fc.constantFrom('low', 'medium', 'high', 'critical')
const sources = fc.constantFrom('web-1', 'web-2', 'db-1', 'edge-7')
const labels = fc.dictionary(fc.constantFrom('job', 'path', 'team'), fc.string({ maxLength: 8 }), { maxKeys: 3 })
const anomalyArb: fc.Arbitrary<AnomalyFact> = fc
  .record({
    n: fc.nat(10_000),
    ts: fc.integer({ min: 0, max: 7_200_000 }),
    source: sources,
    severity: severities,
    score: fc.double({ min: 0, max: 1, noNaN: true }),
    metric: fc.constantFrom('cpu.load', 'mem.used', 'latency'),
    det: fc.constantFrom('ewma', 'mad', 'drift'),
    labels,
  })
  .map((r) =>
    anomaly(`a${r.n}`, r.ts, {
      source: r.source,
      severity: r.severity,
      score: r.score,
      metric: r.metric,
      labels: r.labels,
      detectors: [{ name: r.det, score: r.score, raw: 5, threshold: 3 }],
    }),
  )
const alertArb: fc.Arbitrary<AlertFact> = fc
  .record({ n: fc.nat(10_000), ts: fc.integer({ min: 0, max: 7_200_000 }), source: sources, severity: severities, rule: fc.constantFrom('secret.leak', 'edr.exec'), attrs: labels })
  .map((r) => alert(`s${r.n}`, r.ts, r))
const inputs = fc.array(fc.oneof(anomalyArb, alertArb), { maxLength: 40 })

describe('policy properties', () => {
  it('same facts + same pack revision → byte-identical decisions (JSON and Avro)', () => {
    const codec = new FactCodec()
    fc.assert(
      fc.property(inputs, (facts) => {
        const a = stepAll(policyStage, facts, cfg)
        const b = stepAll(policyStage, facts, cfg)
        expect(JSON.stringify(a.out)).toBe(JSON.stringify(b.out))
        expect(JSON.stringify(a.state)).toBe(JSON.stringify(b.state))
        a.out.forEach((f, i) => expect(Buffer.from(codec.encode(f).data).equals(Buffer.from(codec.encode(b.out[i]).data))).toBe(true))
      }),
      { numRuns: 60 },
    )
  })

  it('suppressed counts never skip: per rule and entity they run 1, 2, 3, … inside a window', () => {
    fc.assert(
      fc.property(fc.array(anomalyArb, { maxLength: 40 }), (facts) => {
        const sorted = [...facts].sort((x, y) => x.ts - y.ts)
        const out = stepAll(policyStage, sorted, cfg).out as DecisionFact[]
        const last = new Map<string, number>()
        for (const d of out) {
          const key = `${d.payload.rule} ${d.payload.command?.target ?? d.source}`
          if (d.payload.suppressed > 0) {
            expect(d.payload.suppressed).toBe((last.get(key) ?? -1) + 1)
            expect(d.payload.limits.at(-1)?.name).toBe('suppression')
          }
          // In event-time order every unsuppressed decision opens a new window (all default rules suppress).
          last.set(key, d.payload.suppressed)
        }
      }),
      { numRuns: 60 },
    )
  })

  it('step never throws, whatever it is given: bad input is rejected', () => {
    const junk = fc.oneof(
      fc.anything(),
      fc.record({ id: fc.anything(), ts: fc.anything(), source: fc.anything(), kind: fc.constantFrom('anomaly', 'alert'), lane: fc.anything(), payload: fc.anything() }),
      anomalyArb.chain((a) =>
        fc.record({ k: fc.constantFrom('score', 'metric', 'labels', 'detectors', 'severity'), v: fc.anything() }).map(({ k, v }) => ({ ...a, payload: { ...a.payload, [k]: v } })),
      ),
    )
    fc.assert(
      fc.property(fc.array(junk, { maxLength: 10 }), (xs) => {
        let s = policyStage.initialState()
        for (const x of xs) {
          const r = policyStage.step(s, x as PolicyInput, cfg)
          s = r.state
          if (r.rejected) expect(r.rejected.reason).toBe('invalid')
        }
      }),
      { numRuns: 200 },
    )
  })
})
