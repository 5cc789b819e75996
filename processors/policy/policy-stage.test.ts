import { describe, expect, it } from 'vitest'
import { derivedId, FactCodec, type DecisionFact, type Fact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { defaultPack, deserializePolicyState, policyStage, POLICY_VERSION, type CompiledPack } from './index.js'
import { alert, anomaly, pack } from '../../test/fixtures/policy.js'
import type { Versioned } from '../stage.js'

const decisions = (out: readonly Fact[]): DecisionFact[] => out.filter((f): f is DecisionFact => f.kind === 'decision')
const run = (facts: Parameters<typeof policyStage.step>[1][], cfg: Versioned<CompiledPack>) => {
  const r = stepAll(policyStage, facts, cfg)
  return { ...r, d: decisions(r.out) }
}

const dp = defaultPack()
if (!dp.ok) throw dp.error
const DEFAULT: Versioned<CompiledPack> = { bucket: 'ben-policy', revision: 3, value: dp.value }

describe('policy stage with the default pack', () => {
  it('throttles the job of a critical cpu anomaly, naming rule, pack, revision, limits, lineage', () => {
    const { d, rejected } = run([anomaly('a1', 1_000)], DEFAULT)
    expect(rejected).toEqual([])
    expect(d).toHaveLength(1)
    const f = d[0]
    expect(f.id).toBe(derivedId('policy', POLICY_VERSION, 3, ['a1']))
    expect(f).toMatchObject({ ts: 1_000, source: 'web-3', lane: 'anomaly', kind: 'decision', lineage: ['a1'], producer: 'policy@1', config: { 'ben-policy': 3 } })
    expect(f.payload).toMatchObject({
      outcome: 'act',
      rule: 'critical-cpu-throttle',
      pack: 'default',
      packRevision: 3,
      severity: 'critical',
      suppressed: 0,
      labels: { job: 'batch-7' },
    })
    expect(f.payload.command).toEqual({ verb: 'throttle_job', target: 'web-3', args: '{"factor":0.5,"job":"batch-7"}' })
    expect(f.payload.limits.map((l) => [l.name, l.allowed])).toEqual([
      ['forbidden', true],
      ['blast-radius:throttles-per-10m', true],
      ['rate-limit', true],
    ])
    expect(f.explain).toContain("rule 'critical-cpu-throttle' of pack 'default' (revision 3)")
  })

  it('proposes quarantine for a secret leak with a path, alerts without one, alerts on drift', () => {
    const drift = anomaly('a2', 3_000, { severity: 'medium', metric: 'latency', detectors: [{ name: 'drift', score: 0.7, raw: 0.4, threshold: 0.2 }] })
    const { d } = run([alert('s1', 1_000), alert('s2', 2_000, { source: 'web-4', attrs: {} }), drift], DEFAULT)
    expect(d.map((x) => [x.payload.rule, x.payload.outcome])).toEqual([
      ['secret-leak-quarantine', 'propose'],
      ['secret-leak-alert', 'alert'],
      ['drift-alert', 'alert'],
    ])
    expect(d[0].payload.command).toEqual({ verb: 'quarantine_artifact', target: 'web-3', args: '{"path":"/srv/app/.env"}' })
  })

  it('records nothing for an unmatched fact but counts it; `unmatched: alert` uses rule (default)', () => {
    const low = anomaly('a3', 1_000, { severity: 'low' })
    const r = run([low], DEFAULT)
    expect(r.out).toEqual([])
    expect(r.state.unmatched).toBe(1)
    const alerting = pack('name: p\nunmatched: alert\nrules: [{ name: only-critical, when: { severity: critical }, then: act-never-used }]'.replace('act-never-used', 'ignore'))
    const d = run([low], alerting).d
    expect(d.map((x) => [x.payload.rule, x.payload.outcome])).toEqual([['(default)', 'alert']])
  })

  it('rejects a fact it cannot evaluate with a stable reason, and goes on', () => {
    const bad = { ...anomaly('bad', 1_000), payload: { ...anomaly('bad', 1_000).payload, severity: 'apocalyptic' } }
    const r = run([bad, anomaly('a4', 2_000)], DEFAULT)
    expect(r.rejected.map((x) => x.rejection.reason)).toEqual(['invalid'])
    expect(r.rejected[0].rejection.message).toContain("payload.severity: 'apocalyptic'")
    expect(r.d.map((x) => x.lineage[0])).toEqual(['a4'])
  })
})

describe('rule order and outcomes', () => {
  const P = pack(`
name: order
verbs: { set_mode: { human: true } }
forbid: { verbs: ['quarantine_*'], targets: ['db-*'] }
rules:
  - { name: first, when: { source: 'web-*', severity: high }, then: alert }
  - { name: second, when: { source: 'web-*' }, then: ignore }
  - { name: human, when: { source: 'edge-*' }, then: { outcome: act, verb: set_mode, args: { mode: maintenance } } }
  - { name: forbidden-verb, when: { source: 'q-*' }, then: { outcome: act, verb: quarantine_artifact, args: { path: /x } } }
  - { name: forbidden-target, when: { source: 'db-*' }, then: { outcome: act, verb: throttle_job, args: { job: j, factor: 0.5 } } }
  - { name: templated, when: { source: 'app-*' }, then: { outcome: act, verb: throttle_job, args: { job: '{labels.job}', factor: 0.5 } } }
`)
  it('first matching rule wins, in file order', () => {
    const d = run([anomaly('a', 1, { severity: 'critical' }), anomaly('b', 2, { severity: 'low' })], P).d
    expect(d.map((x) => [x.payload.rule, x.payload.outcome])).toEqual([
      ['first', 'alert'],
      ['second', 'ignore'],
    ])
  })

  it('turns act into propose for a verb the pack says needs a human', () => {
    const [f] = run([anomaly('a', 1, { source: 'edge-1' })], P).d
    expect(f.payload.outcome).toBe('propose')
    expect(f.payload.command?.verb).toBe('set_mode')
    expect(f.explain).toContain('needs a human')
  })

  it('downgrades forbidden verbs and targets to alert and says which pattern', () => {
    const d = run([anomaly('a', 1, { source: 'q-1' }), anomaly('b', 2, { source: 'db-1' })], P).d
    expect(d.map((x) => x.payload.outcome)).toEqual(['alert', 'alert'])
    expect(d[0].payload.limits).toEqual([{ name: 'forbidden', allowed: false, detail: "verb quarantine_artifact is forbidden by pattern 'quarantine_*'" }])
    expect(d[1].payload.limits[0]).toMatchObject({ name: 'forbidden', allowed: false, detail: "target db-1 is forbidden by pattern 'db-*'" })
    expect(d[1].payload.command?.target).toBe('db-1')
  })

  it('downgrades to alert when a templated argument is missing from the fact', () => {
    const [f] = run([anomaly('a', 1, { source: 'app-1', labels: {} })], P).d
    expect(f.payload.outcome).toBe('alert')
    expect(f.payload.command).toBe(null)
    expect(f.payload.limits).toEqual([{ name: 'arguments', allowed: false, detail: '{labels.job} is not in the fact, so the throttle_job command cannot be built' }])
  })
})

describe('limits over event time', () => {
  const P = pack(`
name: limits
blastRadius: [{ name: fleet, verbs: [throttle_job], max: 3, window: 1h }]
rules:
  - name: throttle
    when: { severity: critical }
    then: { outcome: act, verb: throttle_job, args: { job: j, factor: 0.5 } }
    rateLimit: { max: 2, per: 10m }
`)
  const MIN = 60_000

  it('token bucket per rule, verb and target refills by event time, not by arrival', () => {
    const facts = [anomaly('1', 0), anomaly('2', 1 * MIN), anomaly('3', 2 * MIN), anomaly('4', 4 * MIN), anomaly('5', 7 * MIN)]
    const d = run(facts, P).d
    // capacity 2, one token per 5 minutes: taken at 0 (1 left) and 1m (0.2 left); 0.4 at 2m, 0.8 at 4m; 1.4 at 7m.
    expect(d.map((x) => x.payload.outcome)).toEqual(['act', 'act', 'alert', 'alert', 'act'])
    expect(d[2].payload.limits.at(-1)).toMatchObject({ name: 'rate-limit', allowed: false })
    expect(d[2].payload.limits.at(-1)?.detail).toContain('the next token comes at 1970-01-01T00:05:00.000Z')
    expect(d[2].payload.reason).toContain('downgraded to alert')
    // Another target has its own bucket.
    expect(run([anomaly('1', 0), anomaly('2', 1), anomaly('3', 2, { source: 'web-9' })], P).d.map((x) => x.payload.outcome)).toEqual(['act', 'act', 'act'])
  })

  it('blast radius caps commands across all targets in a sliding window', () => {
    const at = (id: string, ts: number, source: string) => anomaly(id, ts, { source })
    const d = run([at('1', 0, 'a'), at('2', 10 * MIN, 'b'), at('3', 20 * MIN, 'c'), at('4', 30 * MIN, 'd'), at('5', 60 * MIN + 1, 'e'), at('6', 61 * MIN, 'f')], P).d
    expect(d.map((x) => x.payload.outcome)).toEqual(['act', 'act', 'act', 'alert', 'act', 'alert'])
    const blocked = d[3].payload.limits.find((l) => l.name === 'blast-radius:fleet')
    expect(blocked).toEqual({
      name: 'blast-radius:fleet',
      allowed: false,
      detail: '3 of at most 3 commands (throttle_job) already in the last 1h across all targets; a slot frees at 1970-01-01T01:00:00.000Z',
    })
    // Rate limit is not consulted (nor consumed) once the blast radius blocks.
    expect(d[3].payload.limits.map((l) => l.name)).toEqual(['forbidden', 'blast-radius:fleet'])
  })

  it('names that collide with Object.prototype members are plain names', () => {
    const C = pack(`
name: proto
verbs: { constructor: { human: false } }
blastRadius: [{ name: constructor, verbs: ['*'], max: 1, window: 1h }]
rules:
  - { name: toString, then: { outcome: act, verb: constructor, args: {} } }
`)
    expect(run([anomaly('1', 0, { source: 'a' }), anomaly('2', 1, { source: 'b' })], C).d.map((x) => x.payload.outcome)).toEqual(['act', 'alert'])
  })

  it('a late fact does not widen the budget', () => {
    const d = run(
      [anomaly('1', 50 * MIN, { source: 'a' }), anomaly('2', 51 * MIN, { source: 'b' }), anomaly('3', 52 * MIN, { source: 'c' }), anomaly('late', 0, { source: 'd' })],
      P,
    ).d
    expect(d.map((x) => x.payload.outcome)).toEqual(['act', 'act', 'act', 'alert'])
  })
})

describe('suppression', () => {
  const P = pack(`
name: sup
rules:
  - { name: hot, when: { severity: high }, then: alert, suppress: 10m }
`)
  const MIN = 60_000
  it('folds repeats of rule+entity into the open decision, counting them, and reopens after the window', () => {
    const h = (id: string, ts: number, source = 'web-3') => anomaly(id, ts, { severity: 'high', source })
    const d = run([h('1', 0), h('2', 1 * MIN), h('3', 2 * MIN), h('x', 3 * MIN, 'web-4'), h('4', 9 * MIN), h('5', 10 * MIN), h('6', 11 * MIN)], P).d
    expect(d.map((x) => [x.source, x.payload.outcome, x.payload.suppressed])).toEqual([
      ['web-3', 'alert', 0],
      ['web-3', 'alert', 1],
      ['web-3', 'alert', 2],
      ['web-4', 'alert', 0],
      ['web-3', 'alert', 3],
      ['web-3', 'alert', 0],
      ['web-3', 'alert', 1],
    ])
    const first = d[0].id
    expect(d[1].payload.limits).toEqual([
      { name: 'suppression', allowed: false, detail: `repeat 1 of decision ${first} (rule 'hot', web-3) inside its 10m window until 1970-01-01T00:10:00.000Z` },
    ])
    expect(d[2].explain).toContain('folded into that decision')
    expect(d[2].explain).toContain('2 repeats so far')
    expect(d[6].payload.limits[0].detail).toContain(`decision ${d[5].id}`)
  })

  it('a suppressed repeat of an act decision carries no command and consumes no limit', () => {
    const A = pack(`
name: sup-act
blastRadius: [{ name: one, verbs: ['*'], max: 1, window: 1h }]
rules:
  - { name: t, then: { outcome: act, verb: throttle_job, args: { job: j, factor: 0.5 } }, suppress: 5m }
`)
    const d = run([anomaly('1', 0), anomaly('2', 60_000), anomaly('3', 120_000, { source: 'web-4' })], A).d
    expect(d.map((x) => [x.payload.outcome, x.payload.suppressed, x.payload.command === null])).toEqual([
      ['act', 0, false],
      ['act', 1, true],
      ['alert', 0, false],
    ])
  })
})

describe('state, determinism and the wire', () => {
  const facts = [anomaly('1', 0), anomaly('2', 1_000), alert('s1', 2_000), anomaly('3', 700_000), alert('s2', 701_000, { source: 'web-4' })]

  it('state survives a JSON checkpoint mid-stream: same output as an uninterrupted run', () => {
    const whole = stepAll(policyStage, facts, DEFAULT).out
    const head = stepAll(policyStage, facts.slice(0, 2), DEFAULT)
    const restored = deserializePolicyState(JSON.parse(JSON.stringify(policyStage.serialize!(head.state))))
    const tail = stepAll(policyStage, facts.slice(2), DEFAULT, restored)
    expect(JSON.stringify([...head.out, ...tail.out])).toBe(JSON.stringify(whole))
  })

  it('the same fact again (a copy stored after the duplicate window) is not decided twice, across a checkpoint too, and is counted', () => {
    const twice = [...facts.slice(0, 3), facts[0], facts[2], ...facts.slice(3)]
    const once = stepAll(policyStage, facts, DEFAULT)
    const r = stepAll(policyStage, twice, DEFAULT)
    expect(JSON.stringify(r.out)).toBe(JSON.stringify(once.out))
    expect(r.state.duplicates).toBe(2)
    expect(r.state.steps).toBe(once.state.steps)
    const head = stepAll(policyStage, facts.slice(0, 3), DEFAULT)
    const restored = deserializePolicyState(JSON.parse(JSON.stringify(policyStage.serialize!(head.state))))
    const tail = stepAll(policyStage, [facts[1], ...facts.slice(3)], DEFAULT, restored)
    expect(JSON.stringify([...head.out, ...tail.out])).toBe(JSON.stringify(once.out))
    expect(tail.state.duplicates).toBe(1)
  })

  it('does not mutate the state it is given', () => {
    const s0 = policyStage.initialState()
    const s1 = stepAll(policyStage, facts.slice(0, 1), DEFAULT).state
    const snapshot = JSON.stringify(s1)
    policyStage.step(s1, anomaly('9', 2_000), DEFAULT)
    expect(JSON.stringify(s1)).toBe(snapshot)
    expect(s0).toEqual(policyStage.initialState())
  })

  it('every decision round-trips through the Avro codec', () => {
    const codec = new FactCodec()
    const { out } = stepAll(policyStage, facts, DEFAULT)
    expect(out.length).toBe(5)
    for (const f of out) {
      const e = codec.encode(f)
      const back = codec.decode(e.data, e.fingerprint)
      expect(back.ok).toBe(true)
      if (back.ok) expect(back.value).toEqual(f)
    }
  })

  it('a pack reload keeps the limits (state is keyed by rule name), and records the new revision', () => {
    const text = `
name: reload
rules:
  - { name: t, then: { outcome: act, verb: throttle_job, args: { job: j, factor: 0.5 } }, rateLimit: { max: 1, per: 10m } }
`
    const r1 = stepAll(policyStage, [anomaly('1', 0)], pack(text, 1))
    const r2 = stepAll(policyStage, [anomaly('2', 5 * 60_000), anomaly('3', 10 * 60_000)], pack(text, 2), r1.state)
    const d = decisions(r2.out)
    expect(d.map((x) => [x.payload.packRevision, x.config['ben-policy'], x.payload.outcome])).toEqual([
      [2, 2, 'alert'],
      [2, 2, 'act'],
    ])
    // Without the carried state the reloaded pack would have acted at 5m.
    expect(decisions(stepAll(policyStage, [anomaly('2', 5 * 60_000)], pack(text, 2)).out)[0].payload.outcome).toBe('act')
  })
})
