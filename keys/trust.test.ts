import { describe, expect, it } from 'vitest'
import { lookupKey, parseTrustStore, revokeKey, serializeTrustStore, trustStore, VerifyReason } from './index.js'
import { ISSUER, OPERATOR, SIDECAR, TRUST } from '../test/fixtures/act.js'

describe('trust store', () => {
  it('is an immutable value: revoking returns a new store', () => {
    const revoked = revokeKey(TRUST, OPERATOR.keyId, 100)
    expect(TRUST.keys.get(OPERATOR.keyId)?.revokedAt).toBe(null)
    expect(revoked.keys.get(OPERATOR.keyId)?.revokedAt).toBe(100)
    expect(revokeKey(revoked, OPERATOR.keyId, 500).keys.get(OPERATOR.keyId)?.revokedAt).toBe(100)
    expect(revokeKey(TRUST, 'nope', 1)).toBe(TRUST)
  })

  it('looks keys up with stable reasons', () => {
    expect(lookupKey(TRUST, ISSUER.keyId, 0).ok).toBe(true)
    const unknown = lookupKey(trustStore(), ISSUER.keyId, 0)
    expect(!unknown.ok && unknown.error.reason).toBe(VerifyReason.UnknownKey)
    const r = lookupKey(revokeKey(TRUST, ISSUER.keyId, 10), ISSUER.keyId, 10)
    expect(!r.ok && r.error.reason).toBe(VerifyReason.RevokedKey)
  })

  it('serialises without secrets and parses back', () => {
    const t = revokeKey(TRUST, OPERATOR.keyId, 42)
    const text = serializeTrustStore(t)
    expect(text).not.toContain('secretKey')
    const back = parseTrustStore(text)
    if (!back.ok) throw back.error
    expect([...back.value.keys.values()]).toEqual([...t.keys.values()].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)))
    expect(back.value.keys.get(SIDECAR.keyId)?.owner).toBe('web-3')
    const bad = parseTrustStore(text.replace(ISSUER.keyId, '0000000000000000'))
    expect(!bad.ok && bad.error.code).toBe('bad_trust_store')
  })
})
