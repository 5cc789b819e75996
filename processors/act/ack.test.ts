import { describe, expect, it } from 'vitest'
import { FactCodec, type CommandFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { actStage, generateKeyPair, revokeKey, signAck, trustKey, verifyAck, VerifyReason } from './index.js'
import { config, decision, ISSUER, SIDECAR, TRUST } from './test-fixtures.js'

const T0 = 1_763_700_000_000
const cmd = stepAll(actStage, [decision('d1', T0)], config()).out[0] as CommandFact
const reasonOf = (r: ReturnType<typeof verifyAck>): string => (r.ok ? 'ok' : r.error.reason)

describe('signAck / verifyAck', () => {
  it('signs an ack fact that verifies and round-trips through Avro', () => {
    const ack = signAck(cmd, 'executed', null, SIDECAR, T0 + 2_000)
    expect(ack).toMatchObject({ kind: 'ack', lane: 'control', source: 'web-3', ts: T0 + 2_000, lineage: [cmd.id], payload: { commandId: cmd.payload.commandId, status: 'executed', keyId: SIDECAR.keyId } })
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
})
