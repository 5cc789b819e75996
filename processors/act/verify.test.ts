import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CommandFact, CommandPayload } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { actStage } from './index.js'
import { approve, cosign, reject, replayGuard, revokeKey, signCommand, verifyCommand, VerifyReason, type VerifyContext } from '../../keys/index.js'
import { config, decision, ISSUER, OPERATOR, OPERATOR_2, STRANGER, TRUST } from '../../test/fixtures/act.js'

const T0 = 1_763_700_000_000
const intent = { verb: 'throttle_job', target: 'web-3', args: '{"factor":0.5,"job":"batch-7"}' }
const issued = (o: Partial<Parameters<typeof signCommand>[2]> = {}, i = intent, key = ISSUER): CommandPayload =>
  signCommand(i, key, { issuedAt: T0, ttlMs: 60_000, decisionId: 'd1', ...o })
const ctx = (o: Partial<VerifyContext> = {}): VerifyContext => ({ target: 'web-3', now: T0 + 1_000, seen: replayGuard(), ...o })
const reasonOf = (cmd: CommandPayload, c: VerifyContext = ctx(), trust = TRUST): string => {
  const r = verifyCommand(cmd, trust, c)
  return r.ok ? 'ok' : r.error.reason
}

/** A proposal fact for quarantine, as the act stage makes it. */
function proposal(): CommandFact {
  const d = decision('d-q', T0, { outcome: 'propose', verb: 'quarantine_artifact', args: '{"path":"/srv/app/.env"}' })
  return stepAll(actStage, [d], config()).out[0] as CommandFact
}

describe('signCommand → verifyCommand', () => {
  it('round trip: a signed command verifies once, with deterministic id, nonce and signature', () => {
    const a = issued()
    expect(a).toMatchObject({ status: 'issued', issuedAt: T0, expiresAt: T0 + 60_000, keyId: ISSUER.keyId, decisionId: 'd1', required: ['issuer'] })
    expect(issued()).toEqual(a)
    expect(reasonOf(a)).toBe('ok')
  })

  it('refuses a forged signature and an altered command: bad_signature', () => {
    const a = issued()
    const flipped = new Uint8Array(a.signatures[0].sig)
    flipped[10] ^= 1
    expect(reasonOf({ ...a, signatures: [{ ...a.signatures[0], sig: flipped }] })).toBe(VerifyReason.BadSignature)
    expect(reasonOf({ ...a, args: '{"factor":0.01,"job":"batch-7"}' })).toBe(VerifyReason.BadSignature)
    expect(reasonOf({ ...a, expiresAt: a.expiresAt + 3_600_000 })).toBe(VerifyReason.BadSignature)
    expect(reasonOf({ ...a, required: [] })).toBe(VerifyReason.BadSignature)
  })

  it('refuses an unregistered key (unknown_key) and a revoked one (revoked_key)', () => {
    expect(reasonOf(issued({}, intent, STRANGER))).toBe(VerifyReason.UnknownKey)
    const revoked = revokeKey(TRUST, ISSUER.keyId, T0)
    expect(reasonOf(issued(), ctx(), revoked)).toBe(VerifyReason.RevokedKey)
    // Revocation takes effect from its time on.
    expect(reasonOf(issued(), ctx({ now: T0 + 1_000 }), revokeKey(TRUST, ISSUER.keyId, T0 + 2_000))).toBe('ok')
  })

  it('refuses expired and not-yet-valid commands', () => {
    expect(reasonOf(issued(), ctx({ now: T0 + 60_000 }))).toBe(VerifyReason.Expired)
    expect(reasonOf(issued(), ctx({ now: T0 + 59_999 }))).toBe('ok')
    expect(reasonOf(issued(), ctx({ now: T0 - 10_000 }))).toBe(VerifyReason.NotYetValid)
    expect(reasonOf(issued(), ctx({ now: T0 - 4_000 }))).toBe('ok')
  })

  it('refuses a command for another target, an unknown verb and bad arguments', () => {
    expect(reasonOf(issued(), ctx({ target: 'web-4' }))).toBe(VerifyReason.WrongTarget)
    expect(reasonOf(issued({}, { ...intent, verb: 'reboot' }))).toBe(VerifyReason.UnknownVerb)
    expect(reasonOf(issued({}, { ...intent, args: '{"job":"x","factor":2}' }))).toBe(VerifyReason.BadArgs)
    expect(reasonOf(issued({}, { ...intent, args: 'not json' }))).toBe(VerifyReason.BadArgs)
  })

  it('refuses a replay, and keeps refusing it', () => {
    const c = ctx()
    const a = issued()
    expect(reasonOf(a, c)).toBe('ok')
    expect(reasonOf(a, c)).toBe(VerifyReason.Replayed)
    expect(reasonOf(a, { ...c, now: T0 + 2_000 })).toBe(VerifyReason.Replayed)
    // Another command (another decision) is fine.
    expect(reasonOf(issued({ decisionId: 'd2' }), c)).toBe('ok')
  })

  it('refuses a proposal (not_approved) and one whose status was forged to issued (too_few_signatures)', () => {
    const p = issued({ required: ['operator'] })
    expect(p.status).toBe('proposed')
    expect(reasonOf(p)).toBe(VerifyReason.NotApproved)
    expect(reasonOf({ ...p, status: 'issued' })).toBe(VerifyReason.TooFewSignatures)
    expect(reasonOf({ ...p, status: 'approved' })).toBe(VerifyReason.TooFewSignatures)
  })

  it('requires what the verb and the target require, whatever the command says', () => {
    // quarantine_artifact needs an operator by registry default, even if issued as plain.
    const q = issued({}, { verb: 'quarantine_artifact', target: 'web-3', args: '{"path":"/x"}' })
    expect(q.status).toBe('issued')
    expect(reasonOf(q)).toBe(VerifyReason.TooFewSignatures)
    expect(reasonOf(cosign(q, OPERATOR))).toBe('ok')
    // A target may demand an operator for throttle_job too.
    expect(reasonOf(issued(), ctx({ require: { throttle_job: ['operator'] } }))).toBe(VerifyReason.TooFewSignatures)
  })

  it('an operator signature must come from a registered, unrevoked operator key', () => {
    const p = { ...cosign(issued({ required: ['operator'] }), OPERATOR), status: 'approved' }
    expect(reasonOf(p)).toBe('ok')
    expect(reasonOf(p, ctx(), revokeKey(TRUST, OPERATOR.keyId, T0))).toBe(VerifyReason.RevokedKey)
    // Two issuer-role signatures do not make an operator.
    const twice = { ...cosign(issued({ required: ['operator'] }), ISSUER), status: 'approved' }
    expect(reasonOf(twice)).toBe(VerifyReason.TooFewSignatures)
  })

  it('a duplicated signature by the same key never counts twice', () => {
    const base = issued({ required: ['operator'] })
    // The issuer's own signature copied into the list, labelled as an operator's: still one key.
    const copied = { ...base, status: 'approved', signatures: [...base.signatures, { ...base.signatures[0], role: 'operator' }] }
    expect(reasonOf(copied)).toBe(VerifyReason.TooFewSignatures)
    // The operator's signature twice satisfies the operator requirement once, and no more.
    const op = cosign(base, OPERATOR)
    const doubled = { ...op, status: 'approved', signatures: [...op.signatures, op.signatures[1]] }
    expect(reasonOf(doubled)).toBe('ok')
    expect(reasonOf({ ...doubled, signatures: [doubled.signatures[1], doubled.signatures[2]] })).toBe(VerifyReason.TooFewSignatures)
  })
})

describe('approve and reject', () => {
  it('approve adds the operator signature over the same bytes and releases the command', () => {
    const p = proposal()
    expect(p.payload.status).toBe('proposed')
    expect(reasonOf(p.payload)).toBe(VerifyReason.NotApproved)
    const a = approve(p, OPERATOR, T0 + 5_000)
    if (!a.ok) throw a.error
    expect(a.value.payload.status).toBe('approved')
    expect(a.value.payload.commandId).toBe(p.payload.commandId)
    expect(a.value.payload.signatures.map((s) => s.keyId)).toEqual([ISSUER.keyId, OPERATOR.keyId])
    expect(a.value.lineage).toEqual([p.id])
    expect(a.value.id).not.toBe(p.id)
    expect(a.value.explain).toContain(`Operator key ${OPERATOR.keyId} approved quarantine_artifact`)
    expect(reasonOf(a.value.payload)).toBe('ok')
    expect(approve(p, OPERATOR, T0 + 5_000)).toEqual(a)
  })

  it('approve refuses non-operators, non-proposals and lapsed proposals', () => {
    const p = proposal()
    const byIssuer = approve(p, ISSUER, T0)
    expect(!byIssuer.ok && byIssuer.error.code).toBe('wrong_role')
    const a = approve(p, OPERATOR, T0)
    if (!a.ok) throw a.error
    const again = approve(a.value, OPERATOR_2, T0)
    expect(!again.ok && again.error.code).toBe('not_proposed')
    const late = approve(p, OPERATOR, p.payload.expiresAt)
    expect(!late.ok && late.error.code).toBe('proposal_expired')
  })

  it('reject is a fact that never executes, and its signature cannot be reused as an approval', () => {
    const p = proposal()
    const r = reject(p, OPERATOR, T0 + 1_000, 'false positive: test fixture')
    if (!r.ok) throw r.error
    expect(r.value.payload).toMatchObject({ status: 'rejected', reason: 'false positive: test fixture', commandId: p.payload.commandId })
    expect(reasonOf(r.value.payload)).toBe(VerifyReason.NotApproved)
    expect(reasonOf({ ...r.value.payload, status: 'approved' })).toBe(VerifyReason.BadSignature)
  })
})

describe('replay guard', () => {
  it('forgets expired commands and stays bounded, refusing rather than forgetting live ones', () => {
    const g = replayGuard({ capacity: 10 })
    for (let i = 0; i < 10; i++) g.remember(`c${i}`, `n${i}`, 1_000 + i, 0)
    expect(g.size).toBe(10)
    // Full of live entries: the one closest to expiry is forgotten and the floor rises to it.
    g.remember('c10', 'n10', 5_000, 0)
    expect(g.size).toBe(10)
    expect(g.floor).toBe(1_000)
    expect(g.seen('c0', 'n0', 1_000)).toBe(true)
    expect(g.seen('new', 'nn', 1_000)).toBe(true)
    expect(g.seen('new', 'nn', 1_001)).toBe(false)
    // Once time passes their expiry, entries are dropped first.
    g.remember('c11', 'n11', 9_000, 2_000)
    expect(g.size).toBe(2)
    expect(g.floor).toBe(1_009)
    expect(g.seen('c10', 'n10', 5_000)).toBe(true)
    expect(g.seen('c11', 'x', 9_000)).toBe(true)
    expect(g.seen('y', 'n11', 9_000)).toBe(true)
  })
})

describe('verifyCommand properties', () => {
  it('never throws and never accepts a command with any signed field changed (status is unsigned: issued and approved are equivalent)', () => {
    const base = issued()
    const fields = ['commandId', 'target', 'verb', 'args', 'issuedAt', 'expiresAt', 'nonce', 'decisionId', 'required', 'signatures', 'keyId'] as const
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.anything(), (k, v) => {
        const forged = { ...base, [k]: v } as CommandPayload
        const r = verifyCommand(forged, TRUST, ctx())
        if (r.ok) expect(JSON.stringify(v)).toBe(JSON.stringify(base[k]))
      }),
      { numRuns: 150 },
    )
  })
})
