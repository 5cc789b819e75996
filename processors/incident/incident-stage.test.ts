import { describe, expect, it } from 'vitest'
import { derivedId, FactCodec, type Fact, type IncidentFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { defaultIncidentConfig, incidentIdOf, incidentStage, type IncidentInput } from './index.js'
import { ackFor, alert, anomaly, cfg, commandFor, decision, MIN, T0 } from '../../test/fixtures/incident.js'

const C = cfg()
const run = (facts: readonly unknown[], c = C) => stepAll(incidentStage, facts as IncidentInput[], c)
const inc = (f: Fact): IncidentFact => {
  expect(f.kind).toBe('incident')
  return f as IncidentFact
}
const brief = (out: readonly Fact[]): string[] => out.map((f) => `${inc(f).payload.transition}:${inc(f).payload.incidentId.slice(0, 4)}`)

describe('incident stage: lifecycle', () => {
  it('the first fact opens an incident: ids, lineage, producer, config, entity, title, explain', () => {
    const a = anomaly('a1', T0)
    const { out } = run([a])
    expect(out).toHaveLength(1)
    const f = inc(out[0])
    const incidentId = incidentIdOf(4, 'a1')
    expect(incidentId).toBe(derivedId('incident', '1', 4, ['a1']))
    expect(f).toMatchObject({
      id: derivedId('incident', '1', 4, [incidentId, 'a1'], 'opened'),
      ts: T0,
      source: 'web-3',
      lane: 'anomaly',
      kind: 'incident',
      lineage: ['a1'],
      producer: 'incident@1',
      config: { 'ben-incidents': 4 },
    })
    expect(f.payload).toEqual({
      incidentId,
      transition: 'opened',
      severity: 'critical',
      entity: { source: 'web-3', job: 'batch-7' },
      openedAt: T0,
      updatedAt: T0,
      factIds: ['a1'],
      title: 'Critical cpu.load anomaly on web-3 (job batch-7).',
    })
    expect(f.explain).toContain('Anomaly a1 (cpu.load was 0.99, score 0.97, critical) opened incident')
    expect(f.explain).toContain('more than 15m after its last activity')
  })

  it('facts about the same entity update it; severity is the highest seen; other entities get their own', () => {
    const { out } = run([
      anomaly('a1', T0, { severity: 'medium' }),
      alert('s1', T0 + MIN, { severity: 'high', attrs: { job: 'batch-7', path: '/x' } }),
      anomaly('a2', T0 + 2 * MIN, { severity: 'low' }),
      anomaly('b1', T0 + 2 * MIN, { labels: { job: 'batch-8' } }),
      anomaly('c1', T0 + 2 * MIN, { source: 'web-4' }),
    ])
    const ps = out.map((f) => inc(f).payload)
    expect(ps.map((p) => [p.transition, p.severity, p.factIds.join(' ')])).toEqual([
      ['opened', 'medium', 'a1'],
      ['updated', 'high', 'a1 s1'],
      ['updated', 'high', 'a1 s1 a2'],
      ['opened', 'critical', 'b1'],
      ['opened', 'critical', 'c1'],
    ])
    expect(ps[1].title).toBe('High cpu.load anomaly and edr.exec alert on web-3 (job batch-7).')
    expect(out[1].explain).toContain('(same entity)')
    expect(out[1].explain).toContain('raised from medium')
    expect(new Set(ps.map((p) => p.incidentId)).size).toBe(3)
    expect(ps[3].entity).toEqual({ source: 'web-3', job: 'batch-8' })
  })

  it('decisions, commands and acks follow lineage: decision → anomaly, command → decision, ack → command', () => {
    const a = anomaly('a1', T0)
    // Labels that would correlate elsewhere: lineage wins.
    const d = decision('d1', T0 + 1000, { basis: ['a1'], labels: { job: 'other' } })
    const c = commandFor(d)
    const k = ackFor(c, T0 + 5000)
    const { out } = run([a, d, c, k])
    const ps = out.map((f) => inc(f).payload)
    expect(ps.map((p) => p.transition)).toEqual(['opened', 'updated', 'updated', 'updated'])
    expect(new Set(ps.map((p) => p.incidentId)).size).toBe(1)
    expect(ps[3].factIds).toEqual(['a1', 'd1', c.id, k.id])
    expect(ps[3].title).toBe('Critical cpu.load anomaly on web-3 (job batch-7); throttle_job executed.')
    expect(out[1].explain).toContain('linked through fact a1')
    expect(out[2].explain).toContain('linked through fact d1')
    expect(out[3].explain).toContain(`linked through fact ${c.payload.commandId}`)
  })

  it('a command whose decision was never seen correlates by source and the labels in its args; an orphan ack joins the source’s latest incident', () => {
    const c = commandFor(decision('d-unseen', T0 + 1000))
    const k = ackFor(commandFor(decision('d-other', T0 + 2000)), T0 + 3000)
    const { out } = run([anomaly('x', T0, { labels: { job: 'batch-9' } }), anomaly('a1', T0 + 500), c, k])
    const ps = out.map((f) => inc(f).payload)
    expect(ps.map((p) => p.transition)).toEqual(['opened', 'opened', 'updated', 'updated'])
    expect(ps[2].incidentId).toBe(ps[1].incidentId)
    expect(out[2].explain).toContain('(same entity)')
    expect(ps[3].incidentId).toBe(ps[1].incidentId)
    expect(out[3].explain).toContain('no lineage link; the most recently active incident on web-3')
  })

  it('an incident opened by a command alone has severity low', () => {
    const { out } = run([commandFor(decision('d1', T0))])
    expect(inc(out[0]).payload).toMatchObject({
      transition: 'opened',
      severity: 'low',
      entity: { source: 'web-3', job: 'batch-7' },
      title: 'Low incident on web-3 (job batch-7); throttle_job issued.',
    })
  })

  it('resolves when a later fact of its source (any entity) passes lastActivity + quietPeriod, at the end of the quiet period', () => {
    const { out, state } = run([anomaly('a1', T0), anomaly('a2', T0 + MIN), anomaly('z', T0 + 17 * MIN, { labels: { job: 'batch-9' } })])
    expect(brief(out).map((s) => s.split(':')[0])).toEqual(['opened', 'updated', 'resolved', 'opened'])
    const r = inc(out[2])
    expect(r.ts).toBe(T0 + MIN + 15 * MIN)
    expect(r.lineage).toEqual(['z'])
    expect(r.payload).toMatchObject({ incidentId: incidentIdOf(4, 'a1'), openedAt: T0, updatedAt: T0 + MIN, factIds: ['a1', 'a2'] })
    expect(r.explain).toContain('nothing new for 15m after its last activity at 2025-11-21T04:41:00.000Z')
    expect(state.open.size).toBe(1)
    expect(state.counts).toMatchObject({ opened: 2, updated: 1, resolved: 1 })
  })

  it('keeps event-time clocks per source: one source running ahead (even at ts 8.64e15) resolves none of the others; two sources past due do', () => {
    const { out, state } = run([anomaly('a1', T0), alert('rogue', 8.64e15, { source: 'evil' }), anomaly('b1', T0 + 2 * MIN, { source: 'db-1' })])
    expect(out.map((f) => `${inc(f).payload.transition}:${f.source}`)).toEqual(['opened:web-3', 'opened:evil', 'opened:db-1'])
    expect(state.watermark).toBe(T0 + 2 * MIN) // the second-highest source clock, not 8.64e15
    expect([...state.open.values()].map((i) => i.entity.source).sort()).toEqual(['db-1', 'evil', 'web-3'])
    // one other source past web-3's due time is not enough; a second one is
    const later = run([anomaly('a1', T0), anomaly('x', T0 + 20 * MIN, { source: 'db-1' }), anomaly('y', T0 + 21 * MIN, { source: 'db-2' })])
    expect(later.out.map((f) => `${inc(f).payload.transition}:${f.source}`)).toEqual(['opened:web-3', 'opened:db-1', 'resolved:web-3', 'opened:db-2'])
    expect(inc(later.out[2]).ts).toBe(T0 + 15 * MIN)
  })

  it('exactly at lastActivity + quietPeriod it is still open; the same entity after resolution opens a new incident', () => {
    const { out } = run([anomaly('a1', T0), anomaly('a2', T0 + 15 * MIN), anomaly('a3', T0 + 30 * MIN + 1)])
    expect(out.map((f) => inc(f).payload.transition)).toEqual(['opened', 'updated', 'resolved', 'opened'])
    expect(inc(out[3]).payload.incidentId).toBe(incidentIdOf(4, 'a3'))
  })

  it('a busy incident resolves at openedAt + maxDuration', () => {
    const c = cfg({ quietPeriod: '10m', maxDuration: '30m' })
    const facts = Array.from({ length: 8 }, (_, i) => anomaly(`a${i}`, T0 + i * 5 * MIN))
    const { out } = run(facts, c)
    const r = out.filter((f) => inc(f).payload.transition === 'resolved')
    expect(r).toHaveLength(1)
    expect(r[0].ts).toBe(T0 + 30 * MIN)
    expect(r[0].explain).toContain('open for the maximum of 30m')
    expect(inc(out.at(-1) as Fact).payload).toMatchObject({ transition: 'opened', incidentId: incidentIdOf(4, 'a7') })
  })

  it('a late fact that opens an already quiet incident is opened and resolved in the same step', () => {
    const { out } = run([anomaly('a1', T0 + 60 * MIN), anomaly('late', T0, { labels: { job: 'batch-9' } })])
    expect(out.map((f) => `${inc(f).payload.transition}@${f.ts - T0}`)).toEqual(['opened@3600000', 'opened@0', `resolved@${15 * MIN}`])
  })

  it('at most maxOpen incidents: the one quiet the longest is resolved early, and says so', () => {
    const c = cfg({ maxOpen: 2 })
    const { out, state } = run(
      [anomaly('a', T0, { source: 'h1' }), anomaly('b', T0 + 1, { source: 'h2' }), anomaly('a2', T0 + 2, { source: 'h1' }), anomaly('c', T0 + 3, { source: 'h3' })],
      c,
    )
    expect(out.map((f) => `${inc(f).payload.transition}:${f.source}`)).toEqual(['opened:h1', 'opened:h2', 'updated:h1', 'resolved:h2', 'opened:h3'])
    expect(out[3].explain).toContain('2 incidents were open and this one had been quiet the longest')
    expect(state.counts.forced).toBe(1)
  })

  it('a fact linked to an incident that has resolved opens a new one for the same entity, and says so', () => {
    const { out } = run([anomaly('a1', T0), anomaly('z', T0 + 20 * MIN, { labels: { job: 'batch-9' } }), decision('d1', T0 + 20 * MIN, { basis: ['a1'], labels: {} })])
    expect(out.map((f) => inc(f).payload.transition)).toEqual(['opened', 'resolved', 'opened', 'opened'])
    const reopened = inc(out[3])
    expect(reopened.payload).toMatchObject({ incidentId: incidentIdOf(4, 'd1'), entity: { source: 'web-3', job: 'batch-7' } })
    expect(reopened.explain).toContain('linked through fact a1 to an incident that had already resolved')
  })

  it('a re-delivered fact changes nothing and is counted', () => {
    const a = anomaly('a1', T0)
    const { out, state, rejected } = run([a, a])
    expect(out).toHaveLength(1)
    expect(rejected).toEqual([])
    expect(state.counts.duplicates).toBe(1)
  })
})

describe('incident stage: bounds', () => {
  it('factIds keep the opener, then key facts before routine ones', () => {
    const c = cfg({ maxFacts: 4 })
    const d = decision('d1', T0 + 1, { basis: ['a0'] })
    const facts = [anomaly('a0', T0), d, anomaly('a1', T0 + 2), anomaly('a2', T0 + 3), anomaly('a3', T0 + 4), anomaly('a4', T0 + 5)]
    const { out } = run(facts, c)
    expect(inc(out.at(-1) as Fact).payload.factIds).toEqual(['a0', 'd1', 'a3', 'a4'])
    expect(out.at(-1)?.explain).toContain('4 of its 6 fact ids are kept')
  })

  it('the id map stays under maxIds: the oldest sixteenth by event time is forgotten', () => {
    const c = cfg({ maxIds: 32 })
    const facts = Array.from({ length: 100 }, (_, i) => anomaly(`a${i}`, T0 + i * 1000, { source: `h${i % 5}`, lineage: [`m${i}`] }))
    const { state } = run(facts, c)
    expect(state.ids.size).toBeLessThanOrEqual(32)
    expect(state.counts.forgotten).toBe(200 - state.ids.size)
    const n = state.ids.size / 2
    expect([...state.ids.keys()].sort()).toEqual(
      facts
        .slice(100 - n)
        .flatMap((f) => [f.id, f.lineage[0]])
        .sort(),
    )
    // Event time, not arrival, decides: a late arrival with an old ts is the first to go.
    let s = state
    const before = s.counts.forgotten
    s = incidentStage.step(s, anomaly('old', T0 - 1, { source: 'h1' }), c).state
    for (let i = 0; i < 3 && s.counts.forgotten === before; i++) s = incidentStage.step(s, anomaly(`new${i}`, T0 + 200_000 + i, { source: 'h1' }), c).state
    expect(s.counts.forgotten).toBeGreaterThan(before)
    expect(s.ids.has('old')).toBe(false)
    expect(s.ids.has('a99')).toBe(true)
  })

  it('ids older than idRetention are forgotten every PRUNE_EVERY steps', () => {
    const c = cfg({ idRetention: '1h', maxIds: 10_000 })
    const facts = Array.from({ length: 1024 }, (_, i) => anomaly(`a${i}`, T0 + i * 10_000, { source: `h${i % 7}` }))
    const { state } = run(facts, c)
    const floor = (state.watermark as number) - 3_600_000
    expect([...state.ids.values()].every((e) => e.t >= floor)).toBe(true)
    expect(state.counts.forgotten).toBeGreaterThan(0)
  })
})

describe('incident stage: rejects', () => {
  it.each([
    ['bad severity', { ...anomaly('x', T0), payload: { ...anomaly('x', T0).payload, severity: 'urgent' } }, 'invalid', "severity 'urgent'"],
    ['fractional ts', { ...anomaly('x', T0), ts: 1.5 }, 'invalid', 'ts must be an integer'],
    ['no id', { ...anomaly('x', T0), id: '' }, 'invalid', 'id must be'],
    ['lineage not ids', { ...alert('x', T0), lineage: [1] }, 'invalid', 'lineage'],
    ['command without decisionId', { ...commandFor(decision('d', T0)), payload: { ...commandFor(decision('d', T0)).payload, decisionId: 7 } }, 'invalid', 'payload.decisionId'],
    ['wrong kind', { ...anomaly('x', T0), kind: 'metric' }, 'kind_mismatch', 'is a metric'],
    ['not an object', 42, 'invalid', 'not an object'],
  ])('%s → rejected with a reason, state untouched', (_, fact, reason, text) => {
    const s0 = run([anomaly('a1', T0)]).state
    const before = JSON.stringify(incidentStage.serialize?.(s0))
    const r = incidentStage.step(s0, fact as IncidentInput, C)
    expect(r.out).toEqual([])
    expect(r.rejected?.reason).toBe(reason)
    expect(r.rejected?.message).toContain(text)
    expect(JSON.stringify(incidentStage.serialize?.(r.state))).toBe(before)
  })
})

describe('incident stage: wire', () => {
  it('every transition round-trips through the Avro codec', () => {
    const codec = new FactCodec()
    const d = decision('d1', T0 + 1000, { basis: ['a1'] })
    const c = commandFor(d)
    const { out } = run([anomaly('a1', T0), alert('s1', T0), d, c, ackFor(c, T0 + 2000), anomaly('z', T0 + 20 * MIN, { labels: { job: 'batch-9' } })], defaultIncidentConfig())
    expect(out.map((f) => inc(f).payload.transition)).toEqual(['opened', 'updated', 'updated', 'updated', 'updated', 'resolved', 'opened'])
    for (const f of out) {
      const e = codec.encode(f)
      expect(e.schema).toBe('ben.Incident')
      const back = codec.decode(e.data, e.fingerprint)
      expect(back.ok).toBe(true)
      if (back.ok) expect(back.value).toEqual(f)
    }
  })
})
