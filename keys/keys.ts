import * as ed from '@noble/ed25519'
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { z } from 'zod'
import type { Result } from '../schemas/index.js'
import { ActError, ActErrorCode } from './errors.js'

// @noble/ed25519 v3: the synchronous API needs a SHA-512 implementation wired in.
ed.hashes.sha512 = sha512

export const KEY_ROLES = ['issuer', 'operator', 'sidecar'] as const
/** issuer: the act stage (signs commands); operator: a human (co-signs); sidecar: a target (signs acks). */
export type KeyRole = (typeof KEY_ROLES)[number]

export interface PublicKey {
  /** First 16 hex digits of sha256(publicKey). */
  readonly keyId: string
  readonly role: KeyRole
  readonly publicKey: Uint8Array
}
export interface KeyPair extends PublicKey {
  /** 32-byte Ed25519 seed (RFC 8032 secret key). */
  readonly secretKey: Uint8Array
}

export const keyIdOf = (publicKey: Uint8Array): string => bytesToHex(sha256(publicKey)).slice(0, 16)

/** A new key pair; `seed` (32 bytes) makes it deterministic (tests, derived keys). */
export function generateKeyPair(role: KeyRole, seed?: Uint8Array): KeyPair {
  const { secretKey, publicKey } = ed.keygen(seed)
  return Object.freeze({ keyId: keyIdOf(publicKey), role, publicKey, secretKey })
}

/*
 * Signing and verifying go through Node's crypto (OpenSSL's Ed25519, RFC 8032): the same
 * signatures, byte for byte, as @noble/ed25519 (Ed25519 is deterministic; keys.test.ts compares
 * them), at a fraction of the cost. noble's pure-JS verify took 1.5 ms warm and its first sign in a
 * process 38 ms (tables built on first use): the act stage's first command of bench:latency's sparse
 * phase was applied 38 ms after it was delivered, and every command is verified again by its
 * target and every ack by Ben. KeyObjects are made once per key.
 */
const b64url = (u: Uint8Array): string => Buffer.from(u).toString('base64url')
const signingKeys = new WeakMap<KeyPair, KeyObject>()
const verifyingKeys = new Map<string, KeyObject>()
/** Public keys kept as KeyObjects (a fleet's sidecars, operators and issuers); past it, the cache starts again. */
const VERIFYING_KEYS_MAX = 10_000

function signingKey(key: KeyPair): KeyObject {
  let k = signingKeys.get(key)
  if (!k) {
    k = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(key.secretKey), x: b64url(key.publicKey) }, format: 'jwk' })
    signingKeys.set(key, k)
  }
  return k
}

function verifyingKey(publicKey: Uint8Array): KeyObject {
  const x = b64url(publicKey)
  let k = verifyingKeys.get(x)
  if (!k) {
    if (verifyingKeys.size >= VERIFYING_KEYS_MAX) verifyingKeys.clear()
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
    verifyingKeys.set(x, k)
  }
  return k
}

/** Signs; returns a Buffer (a Uint8Array) because avsc encodes `bytes` fields only from Buffers. */
export const signBytes = (message: Uint8Array, key: KeyPair): Uint8Array => nodeSign(null, message, signingKey(key))

/** Never throws: a malformed signature or key is simply not valid. */
export function verifyBytes(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return sig instanceof Uint8Array && sig.length === 64 && publicKey instanceof Uint8Array && publicKey.length === 32 && nodeVerify(null, message, verifyingKey(publicKey), sig)
  } catch {
    return false
  }
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64')
const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))
const base64 = (len: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64')
    .refine((s) => Buffer.from(s, 'base64').length === len, `must decode to ${len} bytes`)

const PublicKeyJson = z.strictObject({ keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits'), role: z.enum(KEY_ROLES), publicKey: base64(32) })
const KeyPairJson = PublicKeyJson.extend({ secretKey: base64(32) })

/** `{ keyId, role, publicKey, secretKey }` with base64 bytes. Keep it secret. */
export const serializeKeyPair = (k: KeyPair): string => JSON.stringify({ keyId: k.keyId, role: k.role, publicKey: b64(k.publicKey), secretKey: b64(k.secretKey) })
/** The public half only, safe to publish in KV `ben-keys`. */
export const serializePublicKey = (k: PublicKey): string => JSON.stringify({ keyId: k.keyId, role: k.role, publicKey: b64(k.publicKey) })
export const publicKeyJson = (k: PublicKey): { keyId: string; role: KeyRole; publicKey: string } => ({ keyId: k.keyId, role: k.role, publicKey: b64(k.publicKey) })

function parseJson(text: string, what: string): Result<unknown, ActError> {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (cause) {
    return { ok: false, error: new ActError(ActErrorCode.BadKey, `${what} is not JSON: ${(cause as Error).message}`, { cause }) }
  }
}
const issues = (e: z.ZodError): string => e.issues.map((i) => `${i.path.join('.') || '(key)'}: ${i.message}`).join('; ')

/** Loads a serialised key pair, checking the key id and that the halves belong together. */
export function loadKeyPair(text: string): Result<KeyPair, ActError> {
  const j = parseJson(text, 'key pair')
  if (!j.ok) return j
  const p = KeyPairJson.safeParse(j.value)
  if (!p.success) return { ok: false, error: new ActError(ActErrorCode.BadKey, `key pair: ${issues(p.error)}`) }
  const publicKey = fromB64(p.data.publicKey)
  const secretKey = fromB64(p.data.secretKey)
  if (keyIdOf(publicKey) !== p.data.keyId)
    return {
      ok: false,
      error: new ActError(ActErrorCode.BadKey, `key pair: keyId ${p.data.keyId} is not sha256(publicKey) (${keyIdOf(publicKey)}); the file was edited or mixed up`),
    }
  if (bytesToHex(ed.getPublicKey(secretKey)) !== bytesToHex(publicKey))
    return { ok: false, error: new ActError(ActErrorCode.BadKey, `key pair ${p.data.keyId}: the secret key does not belong to the public key`) }
  return { ok: true, value: Object.freeze({ keyId: p.data.keyId, role: p.data.role, publicKey, secretKey }) }
}

/** Parses a public key in the shape of `publicKeyJson` (already-parsed JSON). */
export function parsePublicKey(value: unknown): Result<PublicKey, ActError> {
  const p = PublicKeyJson.safeParse(value)
  if (!p.success) return { ok: false, error: new ActError(ActErrorCode.BadKey, `public key: ${issues(p.error)}`) }
  const publicKey = fromB64(p.data.publicKey)
  if (keyIdOf(publicKey) !== p.data.keyId)
    return { ok: false, error: new ActError(ActErrorCode.BadKey, `public key: keyId ${p.data.keyId} is not sha256(publicKey) (${keyIdOf(publicKey)})`) }
  return { ok: true, value: Object.freeze({ keyId: p.data.keyId, role: p.data.role, publicKey }) }
}

export const loadPublicKey = (text: string): Result<PublicKey, ActError> => {
  const j = parseJson(text, 'public key')
  return j.ok ? parsePublicKey(j.value) : j
}
