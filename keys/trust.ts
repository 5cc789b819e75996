import { z } from 'zod'
import type { Result } from '../schemas/index.js'
import { ActError, ActErrorCode, refuse, VerifyReason, type VerifyError } from './errors.js'
import { parsePublicKey, publicKeyJson, type PublicKey } from './keys.js'

/** A registered public key. `owner` binds a sidecar key to the target it speaks for. */
export interface TrustedKey extends PublicKey {
  readonly owner: string | null
  /** Event time from which the key is refused everywhere; null while trusted. */
  readonly revokedAt: number | null
}

/**
 * The keys a verifier trusts, by key id. A pure, immutable value: `trustKey` and `revokeKey`
 * return new stores. The lead loads it from KV `ben-keys` (one entry per key, the JSON of
 * `trustedKeyJson`) and swaps it in on every KV update.
 */
export interface TrustStore {
  readonly keys: ReadonlyMap<string, TrustedKey>
}

const toTrusted = (k: PublicKey | TrustedKey, owner?: string | null): TrustedKey =>
  Object.freeze({ keyId: k.keyId, role: k.role, publicKey: k.publicKey, owner: owner ?? ('owner' in k ? k.owner : null), revokedAt: 'revokedAt' in k ? k.revokedAt : null })

export function trustStore(keys: Iterable<PublicKey | TrustedKey> = []): TrustStore {
  const m = new Map<string, TrustedKey>()
  for (const k of keys) m.set(k.keyId, toTrusted(k))
  return Object.freeze({ keys: m })
}

/** Registers (or replaces) a key. Only the public half is kept. */
export function trustKey(store: TrustStore, key: PublicKey | TrustedKey, owner?: string | null): TrustStore {
  const m = new Map(store.keys)
  m.set(key.keyId, toTrusted(key, owner))
  return Object.freeze({ keys: m })
}

/** Revokes a key from `at` on (event time). An unknown key id leaves the store unchanged. */
export function revokeKey(store: TrustStore, keyId: string, at: number): TrustStore {
  const k = store.keys.get(keyId)
  if (!k) return store
  const m = new Map(store.keys)
  m.set(keyId, Object.freeze({ ...k, revokedAt: k.revokedAt === null ? at : Math.min(k.revokedAt, at) }))
  return Object.freeze({ keys: m })
}

/** The trusted key with this id at `now`, or why it cannot be used. */
export function lookupKey(store: TrustStore, keyId: string, now: number): { ok: true; value: TrustedKey } | { ok: false; error: VerifyError } {
  const k = store.keys.get(keyId)
  if (!k) return refuse(VerifyReason.UnknownKey, `key ${keyId} is not registered in ben-keys; register its public key or re-sign with a registered one`)
  if (k.revokedAt !== null && now >= k.revokedAt)
    return refuse(
      VerifyReason.RevokedKey,
      `key ${keyId} (${k.role}) was revoked at ${Math.abs(k.revokedAt) <= 8.64e15 ? new Date(k.revokedAt).toISOString() : k.revokedAt}; re-sign with a current key`,
    )
  return { ok: true, value: k }
}

const TrustedKeyJson = z.object({ owner: z.string().min(1).nullable().default(null), revokedAt: z.number().int().nullable().default(null) })

export const trustedKeyJson = (k: TrustedKey) => ({ ...publicKeyJson(k), owner: k.owner, revokedAt: k.revokedAt })

/** Parses one KV entry (already-parsed JSON). */
export function parseTrustedKey(value: unknown): Result<TrustedKey, ActError> {
  const pk = parsePublicKey(
    value !== null && typeof value === 'object'
      ? { keyId: (value as PublicKey).keyId, role: (value as PublicKey).role, publicKey: (value as { publicKey?: unknown }).publicKey }
      : value,
  )
  if (!pk.ok) return { ok: false, error: new ActError(ActErrorCode.BadTrustStore, pk.error.message) }
  const extra = TrustedKeyJson.safeParse(value)
  if (!extra.success)
    return { ok: false, error: new ActError(ActErrorCode.BadTrustStore, `key ${pk.value.keyId}: ${extra.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`) }
  return { ok: true, value: Object.freeze({ ...pk.value, ...extra.data }) }
}

export const serializeTrustStore = (s: TrustStore): string => JSON.stringify({ keys: [...s.keys.values()].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)).map(trustedKeyJson) })

/** Parses `{ keys: [...] }` as written by `serializeTrustStore`. */
export function parseTrustStore(text: string): Result<TrustStore, ActError> {
  let j: unknown
  try {
    j = JSON.parse(text)
  } catch (cause) {
    return { ok: false, error: new ActError(ActErrorCode.BadTrustStore, `trust store is not JSON: ${(cause as Error).message}`, { cause }) }
  }
  const keys = j !== null && typeof j === 'object' ? (j as { keys?: unknown }).keys : undefined
  if (!Array.isArray(keys)) return { ok: false, error: new ActError(ActErrorCode.BadTrustStore, 'trust store: expected { "keys": [ ... ] }') }
  const out: TrustedKey[] = []
  for (const [i, k] of keys.entries()) {
    const r = parseTrustedKey(k)
    if (!r.ok) return { ok: false, error: new ActError(ActErrorCode.BadTrustStore, `keys[${i}]: ${r.error.message}`) }
    out.push(r.value)
  }
  return { ok: true, value: trustStore(out) }
}
