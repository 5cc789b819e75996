import { describe, expect, it } from 'vitest'
import { FactCodec, type CommandFact, type CommandPayload, type EdgeFact } from '../schemas/index.js'
import {
  approve,
  defineVerb,
  DEFAULT_VERBS,
  generateKeyPair,
  revokeKey,
  signCommand,
  trustKey,
  trustStore,
  verbRegistry,
  verifyAck,
  SetModeArgs,
  type KeyPair,
} from '../keys/index.js'
import { createFleet, createSimTarget, fleetTargets, simSidecarKey, type FleetEffect, type FleetOptionsInput } from './index.js'

const T0 = 1_763_700_000_000
const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const ISSUER = generateKeyPair('issuer', seed(11))
const OPERATOR = generateKeyPair('operator', seed(12))
const STRANGER = generateKeyPair('issuer', seed(13))
const SIDECAR = simSidecarKey('test', 'web-3')
const TRUST = trustStore([ISSUER, OPERATOR])

let n = 0
/** A command fact as the act stage publishes it on ben.cmd.<target>. */
function command(
  o: { verb?: string; args?: string; target?: string; issuedAt?: number; ttlMs?: number; key?: KeyPair; decisionId?: string; required?: Array<'issuer' | 'operator'> } = {},
): CommandFact {
  const payload: CommandPayload = signCommand({ verb: o.verb ?? 'throttle_job', target: o.target ?? 'web-3', args: o.args ?? '{"factor":0.5,"job":"batch-7"}' }, o.key ?? ISSUER, {
    issuedAt: o.issuedAt ?? T0,
    ttlMs: o.ttlMs ?? 60_000,
    decisionId: o.decisionId ?? `d-${++n}`,
    ...(o.required ? { required: o.required } : {}),
  })
  return asFact(payload, o.issuedAt ?? T0)
}
const asFact = (payload: CommandPayload, ts: number): CommandFact => ({
  id: `cmd-${payload.commandId}-${payload.status}`,
  ts,
  source: 'act',
  lane: 'control',
  kind: 'command',
  payload,
  lineage: [payload.decisionId],
  producer: 'act@1',
  config: {},
  explain: 'test command',
})

function target(o: { now?: number; jobs?: readonly string[]; onEffect?: (e: FleetEffect) => void; trust?: typeof TRUST } = {}) {
  let now = o.now ?? T0 + 1_000
  const t = createSimTarget({
    id: 'web-3',
    keyPair: SIDECAR,
    trust: o.trust ?? TRUST,
    now: () => now,
    jobs: o.jobs ?? ['batch-7', 'batch-8', 'batch-9'],
    ...(o.onEffect ? { onEffect: o.onEffect } : {}),
  })
  return { t, at: (ts: number) => (now = ts) }
}
describe('createSimTarget', () => {
  it('executes a valid command: records the effect, reports it, and acks executed with a verifiable signature', () => {
    const effects: FleetEffect[] = []
    const { t } = target({ onEffect: (e) => effects.push(e) })
    const cmd = command()
    const ack = t.handle(cmd)
    expect(ack.payload).toMatchObject({ commandId: cmd.payload.commandId, target: 'web-3', verb: 'throttle_job', status: 'executed', reason: null, keyId: SIDECAR.keyId })
    expect(ack.ts).toBe(T0 + 1_000)
    expect(ack.lineage).toEqual([cmd.id])
    expect(t.state()).toMatchObject({ throttled: { 'batch-7': 0.5 }, executed: 1, failed: 0 })
    expect(effects).toEqual([{ verb: 'throttle_job', source: 'web-3', at: T0 + 1_000, commandId: cmd.payload.commandId, job: 'batch-7', factor: 0.5 }])
    const withSidecar = trustKey(TRUST, SIDECAR, 'web-3')
    expect(verifyAck(ack.payload, withSidecar, T0 + 2_000)).toEqual({ ok: true })
    const codec = new FactCodec()
    const e = codec.encode(ack)
    const back = codec.decode(e.data, e.fingerprint)
    expect(back.ok && back.value).toEqual(ack)
    expect(JSON.stringify(t.state())).toBe(JSON.stringify(JSON.parse(JSON.stringify(t.state()))))
  })

  it('set_mode and an approved quarantine execute too', () => {
    const { t } = target()
    expect(t.handle(command({ verb: 'set_mode', args: '{"mode":"maintenance"}' })).payload.status).toBe('executed')
    const proposal = command({ verb: 'quarantine_artifact', args: '{"path":"/var/log/app.log"}', required: ['issuer', 'operator'] })
    const approved = approve(proposal, OPERATOR, T0 + 500)
    if (!approved.ok) throw approved.error
    expect(t.handle(approved.value).payload.status).toBe('executed')
    expect(t.state()).toMatchObject({ mode: 'maintenance', quarantined: ['/var/log/app.log'], executed: 2 })
  })

  it('refuses each kind of invalid command with its reason, and changes nothing', () => {
    const refused = (cmd: CommandFact, o: Parameters<typeof target>[0] = {}): string => {
      const { t } = target(o)
      const ack = t.handle(cmd)
      expect(ack.payload.status).toBe('refused')
      expect(t.state()).toMatchObject({ throttled: {}, executed: 0 })
      return (ack.payload.reason ?? '').split(':')[0]
    }
    const good = command()
    const forged = new Uint8Array(good.payload.signatures[0].sig)
    forged[5] ^= 1
    expect(refused(asFact({ ...good.payload, signatures: [{ ...good.payload.signatures[0], sig: Buffer.from(forged) }] }, T0))).toBe('bad_signature')
    expect(refused(asFact({ ...good.payload, args: '{"factor":0.01,"job":"batch-7"}' }, T0))).toBe('bad_signature')
    expect(refused(command(), { now: T0 + 60_000 })).toBe('expired')
    expect(refused(command(), { trust: revokeKey(TRUST, ISSUER.keyId, T0) })).toBe('revoked_key')
    expect(refused(command({ key: STRANGER }))).toBe('unknown_key')
    expect(refused(command({ target: 'web-4' }))).toBe('wrong_target')
    expect(refused(command({ verb: 'reboot', args: '{}' }))).toBe('unknown_verb')
    expect(refused(command({ args: '{"job":"batch-7","factor":3}' }))).toBe('bad_args')
    // quarantine needs an operator's signature whatever the issuer says.
    expect(refused(command({ verb: 'quarantine_artifact', args: '{"path":"/tmp/x"}' }))).toBe('too_few_signatures')
    expect(refused(command({ verb: 'quarantine_artifact', args: '{"path":"/tmp/x"}', required: ['issuer', 'operator'] }))).toBe('not_approved')
  })

  it('refuses a replayed command even after it executed once', () => {
    const { t, at } = target()
    const cmd = command()
    expect(t.handle(cmd).payload.status).toBe('executed')
    at(T0 + 2_000)
    const again = t.handle(cmd)
    expect(again.payload).toMatchObject({ status: 'refused' })
    expect(again.payload.reason).toMatch(/^replayed: /)
    expect(t.state()).toMatchObject({ executed: 1, refused: { replayed: 1 } })
  })

  it('acks failed with the error when the handler throws (unknown job, no handler, effect sink failing)', () => {
    const { t } = target()
    const a = t.handle(command({ args: '{"factor":0.5,"job":"batch-1"}' }))
    expect(a.payload.status).toBe('failed')
    expect(a.payload.reason).toContain('job batch-1 does not run on web-3')
    expect(t.state()).toMatchObject({ throttled: {}, failed: 1, executed: 0 })

    const verbs = verbRegistry([...DEFAULT_VERBS, defineVerb({ name: 'reboot', description: 'reboot the host', args: SetModeArgs, signatures: [] })])
    const t2 = createSimTarget({ id: 'web-3', keyPair: SIDECAR, trust: TRUST, now: () => T0, verbs })
    const b = t2.handle(command({ verb: 'reboot', args: '{"mode":"normal"}' }))
    expect(b.payload).toMatchObject({ status: 'failed' })
    expect(b.payload.reason).toContain('no handler')

    const { t: t3 } = target({
      onEffect: () => {
        throw new Error('fleet unreachable')
      },
    })
    const c = t3.handle(command())
    expect(c.payload).toMatchObject({ status: 'failed', reason: 'Error: fleet unreachable' })
    expect(t3.state().throttled).toEqual({})
  })

  it('is deterministic: the same commands at the same times give byte-identical acks', () => {
    const run = (): string => {
      const { t, at } = target()
      const cmds = [command({ decisionId: 'x1' }), command({ decisionId: 'x1' }), command({ decisionId: 'x2', target: 'web-9' })]
      return cmds.map((c, i) => (at(T0 + 1_000 + i), JSON.stringify(t.handle(c), (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))).join('\n')
    }
    expect(run()).toBe(run())
  })
})

describe('fleetTargets: a throttle ends the runaway', () => {
  const MIN = 60_000
  const opts: FleetOptionsInput = {
    hosts: 3,
    seed: 'e2e',
    startTs: T0,
    rate: 30,
    scenarios: [{ kind: 'cpu-runaway', host: 'web-2', job: 'batch-5', atMs: 2 * MIN, durationMs: 10 * MIN }],
  }
  const cpu = (fs: readonly EdgeFact[]) =>
    fs.flatMap((f) => (f.lane === 'metric' && f.source === 'web-2' && f.name === 'cpu.load' && f.labels.job === 'batch-5' ? [{ ts: f.ts, value: f.value }] : []))

  function run(throttleAt: number | null): { facts: EdgeFact[]; fleet: ReturnType<typeof createFleet>; acks: string[] } {
    const fleet = createFleet(opts)
    let now = T0
    const { targets, trust } = fleetTargets(fleet, { trust: TRUST, now: () => now })
    const facts: EdgeFact[] = []
    const acks: string[] = []
    for (let t = T0; t < T0 + 8 * MIN; t += 1_000) {
      now = t
      if (throttleAt !== null && t === throttleAt) {
        const cmd = command({ target: 'web-2', args: '{"factor":0.5,"job":"batch-5"}', issuedAt: t - 500, decisionId: 'runaway' })
        const ack = targets.get('web-2')!.handle(cmd)
        acks.push(ack.payload.status)
        expect(verifyAck(ack.payload, trust, t)).toEqual({ ok: true })
      }
      facts.push(...fleet.next(t + 1_000))
    }
    return { facts, fleet, acks }
  }

  it('cpu.load returns to normal soon after the executed throttle, and the host reports it', () => {
    const at = T0 + 4 * MIN
    const { facts, fleet, acks } = run(at)
    expect(acks).toEqual(['executed'])
    const s = cpu(facts)
    expect(s.filter((p) => p.ts >= T0 + 2 * MIN + 5_000 && p.ts < at).every((p) => p.value > 6)).toBe(true)
    expect(s.filter((p) => p.ts >= at + 10_000).every((p) => p.value < 2)).toBe(true)
    expect(fleet.scenarios()[0]).toMatchObject({ stoppedAt: at, stoppedBy: expect.any(String) })
    const report = facts.find((f) => f.lane === 'event' && f.type === 'job.throttled')
    expect(report).toMatchObject({ source: 'web-2', ts: at, attrs: { job: 'batch-5', factor: '0.5' } })
    // Without the command the runaway goes on until its planned end.
    const free = cpu(run(null).facts)
    expect(free.filter((p) => p.ts >= at + 10_000).every((p) => p.value > 6)).toBe(true)
    // Same calls → same facts.
    expect(JSON.stringify(run(at).facts)).toBe(JSON.stringify(facts))
  })
})
