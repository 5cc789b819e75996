import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ActErrorCode, generateKeyPair, keyIdOf, loadKeyPair, loadPublicKey, serializeKeyPair, serializePublicKey } from './index.js'

describe('keys', () => {
  it('key id is the first 16 hex digits of sha256(publicKey)', () => {
    const k = generateKeyPair('issuer')
    expect(k.keyId).toBe(createHash('sha256').update(k.publicKey).digest('hex').slice(0, 16))
    expect(keyIdOf(k.publicKey)).toBe(k.keyId)
    expect(k.publicKey).toHaveLength(32)
    expect(k.secretKey).toHaveLength(32)
  })

  it('a seed makes generation deterministic; fresh keys differ', () => {
    const s = new Uint8Array(32).fill(9)
    expect(generateKeyPair('operator', s).keyId).toBe(generateKeyPair('operator', s).keyId)
    expect(generateKeyPair('operator').keyId).not.toBe(generateKeyPair('operator').keyId)
  })

  it('serialises to JSON with base64 and loads back', () => {
    const k = generateKeyPair('sidecar')
    const text = serializeKeyPair(k)
    expect(JSON.parse(text)).toMatchObject({ keyId: k.keyId, role: 'sidecar', publicKey: Buffer.from(k.publicKey).toString('base64') })
    const back = loadKeyPair(text)
    expect(back.ok && back.value).toEqual(k)
    const pub = loadPublicKey(serializePublicKey(k))
    expect(pub.ok && pub.value).toEqual({ keyId: k.keyId, role: 'sidecar', publicKey: k.publicKey })
    expect(serializePublicKey(k)).not.toContain('secretKey')
  })

  it('refuses a wrong key id, mismatched halves and malformed files, with a code', () => {
    const a = generateKeyPair('issuer')
    const b = generateKeyPair('issuer')
    const j = JSON.parse(serializeKeyPair(a))
    const wrongId = loadKeyPair(JSON.stringify({ ...j, keyId: b.keyId }))
    expect(!wrongId.ok && wrongId.error.code).toBe(ActErrorCode.BadKey)
    expect(!wrongId.ok && wrongId.error.message).toContain('is not sha256(publicKey)')
    const mixed = loadKeyPair(JSON.stringify({ ...j, secretKey: JSON.parse(serializeKeyPair(b)).secretKey }))
    expect(!mixed.ok && mixed.error.message).toContain('does not belong to the public key')
    const notJson = loadKeyPair('{')
    expect(notJson.ok).toBe(false)
    const shortKey = loadKeyPair(JSON.stringify({ ...j, publicKey: 'AAAA' }))
    expect(!shortKey.ok && shortKey.error.message).toContain('publicKey: must decode to 32 bytes')
    const badRole = loadKeyPair(JSON.stringify({ ...j, role: 'root' }))
    expect(!badRole.ok && badRole.error.message).toContain('role')
  })
})
