import { describe, expect, it } from 'vitest'
import { FactCodec, type CommandFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { actStage } from './index.js'
import { generateKeyPair, revokeKey, signAck, trustKey, verifyAck, VerifyReason } from '../../keys/index.js'
import { config, decision, ISSUER, SIDECAR, TRUST } from '../../test/fixtures/act.js'

const T0 = 1_763_700_000_000
const cmd = stepAll(actStage, [decision('d1', T0)], config()).out[0] as CommandFact
const reasonOf = (r: ReturnType<typeof verifyAck>): string => (r.ok ? 'ok' : r.error.reason)

describe('signAck / verifyAck', () => {
  it('signs an ack fact that verifies and round-trips through Avro', () => {
    const ack = signAck(cmd, 'executed', null, SIDECAR, T0 + 2_000)
    expect(ack).toMatchObject({
      kind: 'ack',
      lane: 'control',
      source: 'web-3',
      ts: T0 + 2_000,
      lineage: [cmd.id],
      payload: { commandId: cmd.payload.commandId, status: 'executed', keyId: SIDECAR.keyId },
    })
    expect(ack.explain).toContain('web-3 executed throttle_job')
    expect(reasonOf(verifyAck(ack.payload, TRUST, T0 + 3_000))).toBe('ok')
    expect(signAck(cmd, 'executed', null, SIDECAR, T0 + 2_000)).toEqual(ack)
    const codec = new FactCodec()
    const e = codec.encode(ack)
    const back = codec.decode(e.data, e.fingerprint)
    expect(back.ok && back.value).toEqual(ack)
  })

  it('refuses altered acks, unknown, revoked and non-sidecar keys, and a sidecar answering for another target', () => {
    const ack = signAck(cmd, 'refused', 'expired', SIDECAR, T0).payload
    expect(reasonOf(verifyAck({ ...ack, status: 'executed' }, TRUST, T0))).toBe(VerifyReason.BadSignature)
    expect(reasonOf(verifyAck({ ...ack, reason: null }, TRUST, T0))).toBe(VerifyReason.BadSignature)
    const stranger = generateKeyPair('sidecar', new Uint8Array(32).fill(7))
    expect(reasonOf(verifyAck(signAck(cmd, 'executed', null, stranger, T0).payload, TRUST, T0))).toBe(VerifyReason.UnknownKey)
    expect(reasonOf(verifyAck(ack, revokeKey(TRUST, SIDECAR.keyId, T0), T0))).toBe(VerifyReason.RevokedKey)
    expect(reasonOf(verifyAck(signAck(cmd, 'executed', null, ISSUER, T0).payload, TRUST, T0))).toBe(VerifyReason.UnknownKey)
    const other = generateKeyPair('sidecar', new Uint8Array(32).fill(8))
    const trust = trustKey(TRUST, other, 'web-4')
    expect(reasonOf(verifyAck(signAck(cmd, 'executed', null, other, T0).payload, trust, T0))).toBe(VerifyReason.WrongTarget)
  })

  it('a refusal answers one attempt: two forged attempts at the same command id get two ack ids; the same message again gets the same one', () => {
    const forged1 = { ...cmd, id: 'forged-1', payload: { ...cmd.payload, signatures: [{ ...cmd.payload.signatures[0], sig: Buffer.alloc(64, 1) }] } }
    const forged2 = { ...cmd, id: 'forged-2', payload: { ...cmd.payload, signatures: [{ ...cmd.payload.signatures[0], sig: Buffer.alloc(64, 2) }] } }
    const sameIdOtherSig = { ...forged1, payload: { ...forged1.payload, signatures: [{ ...cmd.payload.signatures[0], sig: Buffer.alloc(64, 3) }] } }
    const a1 = signAck(forged1, 'refused', 'bad_signature: x', SIDECAR, T0)
    const ids = new Set([
      a1.id,
      signAck(forged2, 'refused', 'bad_signature: x', SIDECAR, T0).id,
      signAck(sameIdOtherSig, 'refused', 'bad_signature: x', SIDECAR, T0).id,
      signAck(forged1, 'refused', 'revoked_key: y', SIDECAR, T0).id,
    ])
    expect(ids.size).toBe(4)
    expect(signAck(forged1, 'refused', 'bad_signature: x', SIDECAR, T0 + 5).id).toBe(a1.id)
    // executed stays one fact per command and key, however often it is re-sent
    expect(signAck(cmd, 'executed', null, SIDECAR, T0).id).toBe(signAck({ ...cmd, id: 'other-fact' }, 'executed', null, SIDECAR, T0 + 9).id)
  })
})
