import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FactCodec, type Fact, type IncidentFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { incidentStage, type IncidentInput } from './index.js'
import { ackFor, alert, anomaly, cfg, commandFor, decision, MIN, T0 } from '../../test/fixtures/incident.js'

const DEFAULT = cfg()
const TIGHT = cfg({ quietPeriod: '2m', maxDuration: '10m', maxFacts: 4, maxOpen: 3, maxIds: 16 }, 7)
const codec = new FactCodec()

// Signing costs ~1 ms, so commands and acks come from a fixed pool; their decisions can appear too.
const POOL = Array.from({ length: 4 }, (_, i) => {
  const d = decision(`pd${i}`, T0 + i * MIN, { basis: [`a${i}`], source: i % 2 ? 'web-3' : 'web-4', outcome: i === 3 ? 'propose' : 'act' })
  const c = commandFor(d)
  return { d, c, k: ackFor(c, T0 + i * MIN + 1000, i === 2 ? 'refused' : 'executed', i === 2 ? 'expired' : null) }
})

const sources = fc.constantFrom('web-3', 'web-4', 'db-1')
const severities = fc.constantFrom('low', 'medium', 'high', 'critical')
const labels = fc.dictionary(fc.constantFrom('job', 'artifact', 'team'), fc.constantFrom('batch-7', 'batch-8', 'a1'), { maxKeys: 2 })
const ts = fc.integer({ min: 0, max: 90 * MIN }).map((t) => T0 + t)
const n = fc.nat(15)
const input: fc.Arbitrary<IncidentInput> = fc.oneof(
  fc.record({ n, ts, source: sources, severity: severities, labels }).map((r) => anomaly(`a${r.n}`, r.ts, { ...r, lineage: [`m${r.n}`] })),
  fc.record({ n, ts, source: sources, severity: severities, attrs: labels }).map((r) => alert(`s${r.n}`, r.ts, r)),
  fc
    .record({ n, ts, source: sources, severity: severities, labels, b: n, suppressed: fc.constantFrom(0, 0, 2) })
    .map((r) => decision(`d${r.n}`, r.ts, { ...r, basis: [`a${r.b}`] })),
  fc.record({ i: fc.nat(3), ts, which: fc.constantFrom('d', 'c', 'k') }).map(({ i, ts: t, which }) => ({ ...POOL[i][which], ts: t }) as IncidentInput),
)
const inputs = fc.array(input, { maxLength: 40 })
const configs = fc.constantFrom(DEFAULT, TIGHT)
const bytes = (fs: readonly Fact[]): string => fs.map((f) => Buffer.from(codec.encode(f).data).toString('hex')).join('|')

describe('incident properties', () => {
  it('same facts + same config revision → byte-identical output (Avro) and state', () => {
    fc.assert(
      fc.property(inputs, configs, (facts, c) => {
        const a = stepAll(incidentStage, facts, c)
        const b = stepAll(incidentStage, facts, c)
        expect(bytes(a.out)).toBe(bytes(b.out))
        expect(JSON.stringify(incidentStage.serialize?.(a.state))).toBe(JSON.stringify(incidentStage.serialize?.(b.state)))
      }),
      { numRuns: 60 },
    )
  })

  it('every output round-trips through the Avro codec', () => {
    fc.assert(
      fc.property(inputs, configs, (facts, c) => {
        for (const f of stepAll(incidentStage, facts, c).out) {
          const e = codec.encode(f)
          const back = codec.decode(e.data, e.fingerprint)
          expect(back.ok && back.value).toEqual(f)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('serialize → JSON → deserialize → continue gives the same output as an uninterrupted run', () => {
    fc.assert(
      fc.property(inputs, fc.nat(), configs, (facts, cut, c) => {
        const k = facts.length === 0 ? 0 : cut % (facts.length + 1)
        const whole = stepAll(incidentStage, facts, c)
        const first = stepAll(incidentStage, facts.slice(0, k), c)
        const restored = incidentStage.deserialize?.(JSON.parse(JSON.stringify(incidentStage.serialize?.(first.state))))
        const rest = stepAll(incidentStage, facts.slice(k), c, restored)
        expect(bytes([...first.out, ...rest.out])).toBe(bytes(whole.out))
        expect(JSON.stringify(incidentStage.serialize?.(rest.state))).toBe(JSON.stringify(incidentStage.serialize?.(whole.state)))
      }),
      { numRuns: 60 },
    )
  })

  it('lifecycle invariants: opened, then updates, then at most one resolved; factIds are inputs; bounds hold', () => {
    fc.assert(
      fc.property(inputs, configs, (facts, c) => {
        const { out, state } = stepAll(incidentStage, facts, c)
        const inputIds = new Set(facts.map((f) => f.id))
        const seen = new Map<string, string>()
        const lastTs = new Map<string, number>()
        for (const f of out as IncidentFact[]) {
          const p = f.payload
          const prev = seen.get(p.incidentId)
          // Per incident, transition event times never go back (the projection keeps the latest).
          expect(f.ts).toBeGreaterThanOrEqual(lastTs.get(p.incidentId) ?? f.ts)
          lastTs.set(p.incidentId, f.ts)
          if (p.transition !== 'resolved') expect(f.ts).toBe(p.updatedAt)
          if (p.transition === 'opened') expect(prev).toBeUndefined()
          else expect(prev === 'opened' || prev === 'updated').toBe(true)
          seen.set(p.incidentId, p.transition)
          expect(p.factIds.length).toBeLessThanOrEqual(c.value.maxFacts)
          expect(p.factIds.every((id) => inputIds.has(id))).toBe(true)
          expect(p.openedAt).toBeLessThanOrEqual(p.updatedAt)
          if (p.transition === 'resolved') expect(f.ts).toBeGreaterThanOrEqual(p.updatedAt)
          expect(f.source).toBe(p.entity.source)
          expect(f.explain).toBeTruthy()
        }
        expect(state.open.size).toBeLessThanOrEqual(c.value.maxOpen)
        expect(state.ids.size).toBeLessThanOrEqual(c.value.maxIds)
        for (const inc of state.open.values()) expect(seen.get(inc.id) === 'opened' || seen.get(inc.id) === 'updated').toBe(true)
      }),
      { numRuns: 60 },
    )
  })

  it('step never throws, whatever it is given: bad input is rejected and later facts still work', () => {
    const junk = fc.oneof(
      fc.anything(),
      fc.record({
        id: fc.anything(),
        ts: fc.anything(),
        source: fc.anything(),
        kind: fc.constantFrom('anomaly', 'alert', 'decision', 'command', 'ack', 'metric'),
        lineage: fc.anything(),
        payload: fc.anything(),
      }),
      input.chain((f) =>
        fc
          .record({ k: fc.constantFrom('severity', 'labels', 'attrs', 'metric', 'decisionId', 'commandId', 'status', 'command', 'limits', 'score', 'args'), v: fc.anything() })
          .map(({ k, v }) => ({ ...f, payload: { ...(f.payload as object), [k]: v } })),
      ),
      input,
    )
    fc.assert(
      fc.property(fc.array(junk, { maxLength: 20 }), configs, (xs, c) => {
        let s = incidentStage.initialState()
        for (const x of xs) {
          const r = incidentStage.step(s, x as IncidentInput, c)
          s = r.state
          if (r.rejected) {
            expect(['invalid', 'kind_mismatch']).toContain(r.rejected.reason)
            expect(r.out).toEqual([])
          }
          for (const f of r.out) expect(codec.decode(codec.encode(f).data, codec.encode(f).fingerprint).ok).toBe(true)
        }
        expect(incidentStage.step(s, anomaly('final', T0 + 200 * MIN, { source: 'z-9' }), c).out.length).toBeGreaterThan(0)
      }),
      { numRuns: 200 },
    )
  })
})
