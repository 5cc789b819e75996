import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { FactCodec, packageRoot, parseEdgeFact, type AnomalyFact, type Fact } from '../schemas/index.js'
import { Comparator, DiffStatus, type RecordedBytes } from './compare.js'
import { diffFields } from './diff.js'
import { peekIdTs } from './peek.js'

const codec = new FactCodec()

function metric(i: number, value = i / 10): Fact {
  const r = parseEdgeFact({ lane: 'metric', source: `web-${i % 3}`, ts: 1_763_700_000_000 + i * 1000, name: 'cpu.load', value, labels: { job: `batch-${i % 2}` } })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

const anomaly: AnomalyFact = {
  id: 'a1',
  ts: 1_763_700_000_000,
  source: 'web-1',
  lane: 'anomaly',
  kind: 'anomaly',
  payload: {
    metric: 'cpu.load',
    value: 9.5,
    score: 0.97,
    threshold: 0.35,
    detectors: [{ name: 'spike', score: 0.97, raw: 40, threshold: 20 }],
    baseline: { centre: 0.8, spread: 0.1 },
    severity: 'critical',
    labels: { job: 'batch-1' },
  },
  lineage: ['m1'],
  producer: 'detect@1.0.0',
  config: { 'ben-detectors': 0 },
  explain: 'cpu.load on web-1 was 9.5',
}

const recorded = (f: Fact): RecordedBytes => {
  const e = codec.encode(f)
  return { id: f.id, data: e.data, fingerprint: () => e.fingerprint }
}

describe('Comparator', () => {
  it('pairs facts by id whatever the order, and counts identical bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), (order) => {
        const c = new Comparator({ codec, inWindow: () => true })
        const facts = order.map((_, i) => metric(i))
        // rebuilt and recorded sides arrive interleaved in different orders
        const rec = [...facts].reverse()
        for (let i = 0; i < facts.length; i++) {
          if (order[i]) {
            c.rebuilt(facts[i])
            c.recorded(recorded(rec[i]))
          } else {
            c.recorded(recorded(rec[i]))
            c.rebuilt(facts[i])
          }
        }
        c.finish()
        expect(c.counts).toEqual({ compared: facts.length, identical: facts.length, changed: 0, missing: 0, extra: 0 })
        expect(c.identical).toBe(true)
      }),
      { numRuns: 50 },
    )
  })

  it('names the fact, the field and both values when the bytes differ', () => {
    const c = new Comparator({ codec, inWindow: () => true })
    c.recorded(recorded(anomaly))
    c.rebuilt({ ...anomaly, payload: { ...anomaly.payload, score: 0.96, detectors: [{ ...anomaly.payload.detectors[0], score: 0.96 }] } })
    c.finish()
    expect(c.identical).toBe(false)
    expect(c.counts).toMatchObject({ compared: 1, changed: 1 })
    expect(c.diffs).toEqual([
      expect.objectContaining({
        status: DiffStatus.Changed,
        id: 'a1',
        kind: 'anomaly',
        fields: [
          { path: 'payload.score', recorded: 0.97, rebuilt: 0.96 },
          { path: 'payload.detectors[0].score', recorded: 0.97, rebuilt: 0.96 },
        ],
      }),
    ])
  })

  it('settles unmatched facts as missing (recorded only) or extra (rebuilt only), inside the window only', () => {
    const inWindow = (f: Fact) => f.ts < 1_763_700_000_000 + 5000
    const c = new Comparator({ codec, inWindow })
    c.recorded(recorded(metric(1)))
    c.recorded(recorded(metric(9)))
    c.rebuilt(metric(2))
    c.rebuilt(metric(8))
    c.finish()
    expect(c.counts).toEqual({ compared: 1, identical: 0, changed: 0, missing: 1, extra: 1 })
    expect(c.diffs.map((d) => [d.status, d.id])).toEqual([
      [DiffStatus.Missing, metric(1).id],
      [DiffStatus.Extra, metric(2).id],
    ])
  })

  it('keeps memory bounded: past maxPending the oldest unmatched are settled early', () => {
    const c = new Comparator({ codec, inWindow: () => true, maxPending: 32 })
    for (let i = 0; i < 200; i++) c.rebuilt(metric(i))
    expect(c.counts.extra).toBeGreaterThan(150)
    c.finish()
    expect(c.counts.extra).toBe(200)
  })
})

describe('diffFields', () => {
  it('finds nothing in equal values and every differing leaf otherwise', () => {
    expect(diffFields({ a: 1, b: [1, 2], c: new Uint8Array([1]) }, { a: 1, b: [1, 2], c: new Uint8Array([1]) })).toEqual([])
    expect(diffFields({ a: 1, b: [1, 2] }, { a: 2, b: [1] })).toEqual([
      { path: 'a', recorded: 1, rebuilt: 2 },
      { path: 'b[1]', recorded: 2, rebuilt: '(absent)' },
    ])
    expect(diffFields({ s: new Uint8Array([1, 2]) }, { s: new Uint8Array([1, 3]) })).toEqual([{ path: 's', recorded: 'base64:AQI=', rebuilt: 'base64:AQM=' }])
  })
})

describe('peekIdTs', () => {
  it('every fact schema starts with id: string, ts: long', () => {
    const dir = join(packageRoot(), 'schemas')
    const facts = readdirSync(dir).filter((f) => f.endsWith('.avsc') && !['dead-letter.avsc', 'hello.avsc'].includes(f))
    expect(facts.length).toBeGreaterThanOrEqual(9)
    for (const f of facts) {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { fields: Array<{ name: string; type: unknown }> }
      expect(
        s.fields.slice(0, 2).map((x) => [x.name, x.type]),
        f,
      ).toEqual([
        ['id', 'string'],
        ['ts', 'long'],
      ])
    }
  })

  it('reads the id and ts of any encoded fact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.string(), (i, id) => {
        const f = { ...metric(i), id }
        expect(peekIdTs(codec.encode(f).data)).toEqual({ id, ts: f.ts })
      }),
    )
    expect(peekIdTs(new Uint8Array([0x80]))).toBeUndefined()
  })
})
