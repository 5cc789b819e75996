import * as ed from '@noble/ed25519'
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

/** Signs; returns a Buffer (a Uint8Array) because avsc encodes `bytes` fields only from Buffers. */
export const signBytes = (message: Uint8Array, key: KeyPair): Uint8Array => Buffer.from(ed.sign(message, key.secretKey))

/** Never throws: a malformed signature or key is simply not valid. */
export function verifyBytes(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return sig instanceof Uint8Array && sig.length === 64 && ed.verify(sig, message, publicKey)
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
