import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as ed from '@noble/ed25519'
import { ActErrorCode, generateKeyPair, keyIdOf, loadKeyPair, loadPublicKey, serializeKeyPair, serializePublicKey } from './index.js'
import { signBytes, verifyBytes } from './keys.js'

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

describe('signatures (node:crypto) against @noble/ed25519, the reference they replaced', () => {
  it('are the same bytes for any key and message, and each side verifies the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 2048 }), (seed, message) => {
        const key = generateKeyPair('issuer', seed)
        const ours = signBytes(message, key)
        const reference = ed.sign(message, key.secretKey)
        expect(Buffer.from(ours).equals(Buffer.from(reference))).toBe(true)
        expect(verifyBytes(reference, message, key.publicKey)).toBe(true)
        expect(ed.verify(ours, message, key.publicKey)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('refuses a changed message, a changed signature, another key and malformed input, without throwing', () => {
    const key = generateKeyPair('sidecar')
    const other = generateKeyPair('sidecar')
    const message = new TextEncoder().encode('throttle_job web-3 batch-7')
    const sig = signBytes(message, key)
    expect(verifyBytes(sig, message, key.publicKey)).toBe(true)
    const changed = Uint8Array.from(message)
    changed[0] ^= 1
    expect(verifyBytes(sig, changed, key.publicKey)).toBe(false)
    const bad = Uint8Array.from(sig)
    bad[10] ^= 0x40
    expect(verifyBytes(bad, message, key.publicKey)).toBe(false)
    expect(verifyBytes(sig, message, other.publicKey)).toBe(false)
    expect(verifyBytes(sig.subarray(0, 63), message, key.publicKey)).toBe(false)
    expect(verifyBytes(sig, message, key.publicKey.subarray(0, 31))).toBe(false)
    // 32 bytes that are no point of the curve
    expect(verifyBytes(sig, message, new Uint8Array(32).fill(0xff))).toBe(false)
    expect(verifyBytes('not bytes' as unknown as Uint8Array, message, key.publicKey)).toBe(false)
  })
})
