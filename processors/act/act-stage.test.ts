import fc from 'fast-check'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { derivedId, FactCodec, type AlertFact, type AnomalyFact, type CommandFact, type DecisionFact } from '../../schemas/index.js'
import { defaultPack, policyStage } from '../policy/index.js'
import { stepAll, type Emission } from '../stage.js'
import { act, actConfig, actStage } from './index.js'
import { approve, commandIdOf, replayGuard, verifyCommand } from '../../keys/index.js'
import { config, decision, ISSUER, OPERATOR, TRUST } from '../../test/fixtures/act.js'

const T0 = 1_763_700_000_000
const CFG = config()
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
const summary = (e: Emission<DecisionFact>): string => (e.rejected ? `rejected:${e.rejected.reason}` : e.out.map((f) => (f as CommandFact).payload.status).join(',') || 'none')

describe('act stage', () => {
  it('act → an issued, signed command fact naming its decision', () => {
    const { out, state } = stepAll(actStage, [decision('d1', T0)], CFG)
    expect(out).toHaveLength(1)
    const f = out[0] as CommandFact
    expect(f).toMatchObject({
      id: derivedId('act', '1', 2, ['d1'], 'issued'),
      ts: T0,
      source: 'web-3',
      lane: 'control',
      kind: 'command',
      lineage: ['d1'],
      producer: 'act@1',
      config: { 'ben-policy': 3, 'ben-keys': 2 },
    })
    expect(f.payload).toMatchObject({
      status: 'issued',
      commandId: commandIdOf('d1'),
      target: 'web-3',
      verb: 'throttle_job',
      issuedAt: T0,
      expiresAt: T0 + 300_000,
      keyId: ISSUER.keyId,
      decisionId: 'd1',
      required: ['issuer'],
      reason: null,
    })
    expect(f.payload.signatures).toHaveLength(1)
    expect(f.explain).toContain('issued throttle_job on web-3')
    expect(state).toMatchObject({ issued: 1, proposed: 0, rejected: 0, skipped: 0, seenCount: 1, duplicates: 0 })
  })

  it('propose, and verbs marked human, → a proposed command that needs an operator', () => {
    const { out } = stepAll(
      actStage,
      [decision('d1', T0, { outcome: 'propose' }), decision('d2', T0, { verb: 'quarantine_artifact', args: '{"sha256":"' + 'a'.repeat(64) + '"}' })],
      CFG,
    )
    const ps = out.map((f) => (f as CommandFact).payload)
    expect(ps.map((p) => [p.status, p.required])).toEqual([
      ['proposed', ['issuer', 'operator']],
      ['proposed', ['issuer', 'operator']],
    ])
    expect(ps[1].expiresAt).toBe(T0 + 3_600_000)
  })

  it('ignore, alert and suppressed repeats → nothing', () => {
    const r = stepAll(
      actStage,
      [decision('a', T0, { outcome: 'ignore', command: null }), decision('b', T0, { outcome: 'alert' }), decision('c', T0, { suppressed: 2, command: null })],
      CFG,
    )
    expect(r.out).toEqual([])
    expect(r.state.skipped).toBe(3)
  })

  it('bad arguments, unknown verbs and bad targets → a rejected (unsigned) command fact with the reason', () => {
    const { out } = stepAll(actStage, [decision('a', T0, { args: '{"job":"x","factor":0}' }), decision('b', T0, { verb: 'reboot' }), decision('c', T0, { target: 'web.3' })], CFG)
    const ps = out.map((f) => (f as CommandFact).payload)
    expect(ps.map((p) => [p.status, p.reason?.split(':')[0], p.signatures.length])).toEqual([
      ['rejected', 'bad_args', 0],
      ['rejected', 'unknown_verb', 0],
      ['rejected', 'wrong_target', 0],
    ])
    expect(ps[0].reason).toContain('factor must be above 0')
  })

  it('a decision that wants to act without a command is refused as invalid input', () => {
    const r = stepAll(actStage, [decision('a', T0, { command: null })], CFG)
    expect(r.out).toEqual([])
    expect(r.rejected.map((x) => x.rejection.reason)).toEqual(['invalid'])
  })

  it('holds every decision while the issuer key is revoked: a rejected, unsigned command with reason revoked_key', () => {
    const c = actConfig({ issuer: ISSUER, defaultTtlMs: 300_000, issuerRevokedAt: 1_763_700_000_000 })
    if (!c.ok) throw c.error
    const { out } = stepAll(actStage, [decision('d-revoked', 1_763_700_100_000)], { bucket: 'ben-policy', revision: 2, value: c.value })
    const cmd = out[0] as CommandFact
    expect(cmd.payload).toMatchObject({ status: 'rejected', signatures: [] })
    expect(cmd.payload.reason).toMatch(new RegExp(`^revoked_key: issuer key ${ISSUER.keyId} is revoked`))
    expect(cmd.explain).toMatch(/Nothing was signed or sent/)
  })

  it('refuses a non-issuer key in its config', () => {
    const c = actConfig({ issuer: OPERATOR })
    expect(!c.ok && c.error.code).toBe('wrong_role')
  })

  it('every command fact round-trips through the Avro codec', () => {
    const codec = new FactCodec()
    const { out } = stepAll(actStage, [decision('a', T0), decision('b', T0, { outcome: 'propose' }), decision('c', T0, { verb: 'reboot' })], CFG)
    const approved = approve(out[1] as CommandFact, OPERATOR, T0 + 1)
    if (!approved.ok) throw approved.error
    for (const f of [...out, approved.value]) {
      const e = codec.encode(f)
      const back = codec.decode(e.data, e.fingerprint)
      expect(back.ok && back.value).toEqual(f)
    }
  })
})

describe('act de-duplication by decision id', () => {
  it('the same decision again (stored twice after the duplicate window) makes no second command, across a checkpoint too', () => {
    const ds = [decision('d1', T0), decision('d2', T0 + 1, { outcome: 'propose' }), decision('d3', T0 + 2, { outcome: 'alert' })]
    const once = stepAll(actStage, ds, CFG)
    const twice = stepAll(actStage, [ds[0], ds[1], ds[0], ds[2], ds[1]], CFG)
    expect(JSON.stringify(twice.out)).toBe(JSON.stringify(once.out))
    expect(twice.out).toHaveLength(2)
    expect(twice.state.duplicates).toBe(2)
    expect(twice.state.issued).toBe(1)
    const head = stepAll(actStage, ds.slice(0, 1), CFG)
    const restored = actStage.deserialize!(JSON.parse(JSON.stringify(actStage.serialize!(head.state))))
    const tail = stepAll(actStage, [ds[0], ds[1]], CFG, restored)
    expect(tail.out.map((f) => f.id)).toEqual([once.out[1].id])
    expect(tail.state.duplicates).toBe(1)
  })
})

describe('act operator (marbles)', () => {
  it('happy and reject paths', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('-a-b-c-d|', {
        a: decision('a', T0),
        b: decision('b', T0, { outcome: 'propose' }),
        c: decision('c', T0, { outcome: 'alert' }),
        d: decision('d', T0, { command: null }),
      })
      expectObservable(
        src.pipe(
          act(() => CFG),
          map(summary),
        ),
      ).toBe('-a-b-c-d|', { a: 'issued', b: 'proposed', c: 'none', d: 'rejected:invalid' })
    })
  })

  it('unsubscribing stops the upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('-a-b-|', { a: decision('a', T0), b: decision('b', T0) })
      expectObservable(
        src.pipe(
          act(() => CFG),
          map(summary),
        ),
        '^-!',
      ).toBe('-a', { a: 'issued' })
      expectSubscriptions(src.subscriptions).toBe('^-!')
    })
  })

  it('time window: a command is valid from its decision time for its ttl, checked at the target', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('-a-b|', { a: decision('a', T0), b: decision('b', T0 + 600_000) })
      const at = (now: number) => (e: Emission<DecisionFact>) => {
        const r = verifyCommand((e.out[0] as CommandFact).payload, TRUST, { target: 'web-3', now, seen: replayGuard() })
        return r.ok ? 'ok' : r.error.reason
      }
      expectObservable(
        src.pipe(
          act(() => CFG),
          map(at(T0 + 299_999)),
        ),
      ).toBe('-a-b|', { a: 'ok', b: 'not_yet_valid' })
      expectObservable(
        src.pipe(
          act(() => CFG),
          map(at(T0 + 300_000)),
        ),
      ).toBe('-a-b|', { a: 'expired', b: 'not_yet_valid' })
    })
  })
})

describe('policy → act → target', () => {
  const dp = defaultPack()
  if (!dp.ok) throw dp.error
  const pcfg = { bucket: 'ben-policy', revision: 3, value: dp.value }
  const acfg = actConfig({ issuer: ISSUER, settings: dp.value.verbs, defaultTtlMs: dp.value.defaultTtlMs })
  if (!acfg.ok) throw acfg.error
  const ACFG = { bucket: 'ben-keys', revision: 1, value: acfg.value }

  it('a critical cpu anomaly is throttled; a secret leak waits for an operator, then runs', () => {
    const an: AnomalyFact = {
      id: 'a1',
      ts: T0,
      source: 'web-3',
      lane: 'anomaly',
      kind: 'anomaly',
      payload: {
        metric: 'cpu.load',
        value: 0.99,
        score: 0.97,
        threshold: 0.5,
        detectors: [{ name: 'ewma', score: 0.97, raw: 9, threshold: 3 }],
        baseline: { centre: 0.3, spread: 0.1 },
        severity: 'critical',
        labels: { job: 'batch-7' },
      },
      lineage: [],
      producer: 'detect@1',
      config: {},
      explain: null,
    }
    const al: AlertFact = {
      id: 's1',
      ts: T0 + 1,
      source: 'web-3',
      lane: 'alert',
      kind: 'alert',
      payload: { rule: 'secret.leak', severity: 'high', message: 'key in artifact', attrs: { path: '/srv/.env' } },
      lineage: [],
      producer: 'edge',
      config: {},
      explain: null,
      redactions: [],
    }
    const decisions = stepAll(policyStage, [an, al], pcfg).out as DecisionFact[]
    const cmds = stepAll(actStage, decisions, ACFG).out as CommandFact[]
    expect(cmds.map((c) => [c.payload.verb, c.payload.status])).toEqual([
      ['throttle_job', 'issued'],
      ['quarantine_artifact', 'proposed'],
    ])
    const seen = replayGuard()
    const verify = (p: CommandFact['payload']) => {
      const r = verifyCommand(p, TRUST, { target: 'web-3', now: T0 + 10, seen })
      return r.ok ? 'ok' : r.error.reason
    }
    expect(verify(cmds[0].payload)).toBe('ok')
    expect(verify(cmds[1].payload)).toBe('not_approved')
    const ok = approve(cmds[1], OPERATOR, T0 + 5)
    if (!ok.ok) throw ok.error
    expect(verify(ok.value.payload)).toBe('ok')
    expect(verify(ok.value.payload)).toBe('replayed')
  })
})

const decisionArb = fc
  .record({
    n: fc.nat(1000),
    ts: fc.integer({ min: 0, max: 4e12 }),
    outcome: fc.constantFrom('ignore', 'alert', 'propose', 'act'),
    verb: fc.constantFrom('throttle_job', 'set_mode', 'quarantine_artifact', 'reboot'),
    target: fc.constantFrom('web-3', 'db-1', 'bad.target'),
    args: fc.constantFrom('{"factor":0.5,"job":"j"}', '{"mode":"degraded"}', '{"path":"/x"}', '{', '{}'),
    suppressed: fc.constantFrom(0, 0, 0, 1),
  })
  .map((r) => decision(`d${r.n}`, r.ts, r))

describe('act properties', () => {
  it('same decisions + same config revision → byte-identical commands (JSON and Avro)', () => {
    const codec = new FactCodec()
    fc.assert(
      fc.property(fc.array(decisionArb, { maxLength: 12 }), (ds) => {
        const a = stepAll(actStage, ds, CFG).out
        const b = stepAll(actStage, ds, CFG).out
        expect(JSON.stringify(a)).toBe(JSON.stringify(b))
        a.forEach((f, i) => expect(Buffer.from(codec.encode(f).data).equals(Buffer.from(codec.encode(b[i]).data))).toBe(true))
      }),
      { numRuns: 40 },
    )
  })

  it('step never throws, whatever it is given', () => {
    const junk = fc.oneof(
      fc.anything(),
      decisionArb.chain((d) =>
        fc.record({ k: fc.constantFrom('outcome', 'command', 'suppressed', 'rule'), v: fc.anything() }).map(({ k, v }) => ({ ...d, payload: { ...d.payload, [k]: v } })),
      ),
      decisionArb.chain((d) => fc.record({ k: fc.constantFrom('id', 'ts', 'source', 'config', 'payload'), v: fc.anything() }).map(({ k, v }) => ({ ...d, [k]: v }))),
    )
    fc.assert(
      fc.property(fc.array(junk, { maxLength: 8 }), (xs) => {
        let s = actStage.initialState()
        for (const x of xs) s = actStage.step(s, x as DecisionFact, CFG).state
      }),
      { numRuns: 150 },
    )
  })
})
