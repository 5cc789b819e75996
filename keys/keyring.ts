import { openBucket, type KV } from '../streams/index.js'
import type { NatsConnection } from '@nats-io/nats-core'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KeyringError } from './errors.js'
import { generateKeyPair, loadKeyPair, serializeKeyPair, type KeyPair, type KeyRole, type PublicKey } from './keys.js'
import { parseTrustedKey, trustedKeyJson, trustStore, type TrustedKey, type TrustStore } from './trust.js'

/**
 * Key files live under `$BEN_HOME/keys/<name>.key.json` (mode 0600): the secret halves never
 * leave the machine that made them. Public keys, roles, owners and revocations live in KV
 * `ben-keys` under `key.<keyId>`, where every verifier watches them.
 */
export class Keyring {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, `${name}.key.json`)
  }

  has(name: string): boolean {
    return existsSync(this.path(name))
  }

  load(name: string): KeyPair {
    const file = this.path(name)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      throw new KeyringError('bad_config', `no key named '${name}' in ${this.dir}; create it with \`ben keys generate --role <role> --name ${name}\``)
    }
    const r = loadKeyPair(text)
    if (!r.ok) throw new KeyringError('bad_config', `key file ${file} is not a valid key pair: ${r.error.message}`)
    return r.value
  }

  /** Writes a new key pair; refuses to overwrite an existing one. */
  generate(name: string, role: KeyRole): KeyPair {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new KeyringError('bad_config', `key name '${name}' must be 1-64 letters, digits, '-' or '_'`)
    if (this.has(name)) throw new KeyringError('bad_config', `a key named '${name}' already exists at ${this.path(name)}`)
    const k = generateKeyPair(role)
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    writeFileSync(this.path(name), serializeKeyPair(k) + '\n', { mode: 0o600 })
    chmodSync(this.path(name), 0o600)
    return k
  }

  /**
   * Replaces the key `name` with a new one of the same role. The old key file is kept as
   * `<name>-<oldKeyId>.key.json`; the caller registers the new key and sets the old one's
   * end of validity (rotation with a grace period).
   */
  rotate(name: string): { previous: KeyPair; next: KeyPair } {
    const previous = this.load(name)
    renameSync(this.path(name), this.path(`${name}-${previous.keyId}`))
    const next = this.generate(name, previous.role)
    return { previous, next }
  }

  loadOrGenerate(name: string, role: KeyRole): KeyPair {
    return this.has(name) ? this.load(name) : this.generate(name, role)
  }

  names(): string[] {
    if (!existsSync(this.dir)) return []
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.key.json'))
      .map((f) => f.slice(0, -'.key.json'.length))
      .sort()
  }
}

export const keyEntry = (keyId: string): string => `key.${keyId}`

/** Registers (or re-registers) a public key in KV `ben-keys`. */
export async function registerKey(kv: KV, key: PublicKey, opts: { owner?: string | null; validUntil?: number | null } = {}): Promise<TrustedKey> {
  const existing = await readKey(kv, key.keyId)
  const trusted: TrustedKey = {
    keyId: key.keyId,
    role: key.role,
    publicKey: key.publicKey,
    owner: opts.owner ?? existing?.owner ?? null,
    revokedAt: opts.validUntil ?? existing?.revokedAt ?? null,
  }
  await kv.put(keyEntry(key.keyId), JSON.stringify(trustedKeyJson(trusted)))
  return trusted
}

/** Marks a key revoked from `at` (event time, ms): refused everywhere from then on. */
export async function revokeRegisteredKey(kv: KV, keyId: string, at: number): Promise<TrustedKey> {
  const k = await readKey(kv, keyId)
  if (!k) throw new KeyringError('bad_config', `key ${keyId} is not registered in ben-keys`)
  const revoked = { ...k, revokedAt: k.revokedAt !== null ? Math.min(k.revokedAt, at) : at }
  await kv.put(keyEntry(keyId), JSON.stringify(trustedKeyJson(revoked)))
  return revoked
}

export async function readKey(kv: KV, keyId: string): Promise<TrustedKey | undefined> {
  const e = await kv.get(keyEntry(keyId))
  if (!e || e.operation !== 'PUT') return undefined
  const r = parseTrustedKey(JSON.parse(e.string()))
  return r.ok ? r.value : undefined
}

export async function listKeys(kv: KV): Promise<TrustedKey[]> {
  const out: TrustedKey[] = []
  for await (const k of await kv.keys('key.>')) {
    const t = await readKey(kv, k.slice(4))
    if (t) out.push(t)
  }
  return out.sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
}

/**
 * The trust store every verifier uses, kept current by a KV watch on `ben-keys`: a
 * registration or revocation reaches it as soon as the server delivers the update.
 */
export class TrustWatcher {
  private store: TrustStore = trustStore()
  private stopper: (() => void) | undefined
  private readonly listeners: Array<(s: TrustStore, changed: TrustedKey) => void> = []

  static async open(nc: NatsConnection, bucket: string): Promise<TrustWatcher> {
    const kv = await openBucket(nc, bucket)
    const w = new TrustWatcher()
    const it = await kv.watch({ key: 'key.>' })
    w.stopper = () => it.stop()
    let ready: () => void = () => undefined
    const initial = new Promise<void>((r) => (ready = r))
    void (async () => {
      for await (const e of it) {
        if (e.operation === 'PUT') {
          const r = parseTrustedKey(JSON.parse(e.string()))
          if (r.ok) {
            const m = new Map(w.store.keys)
            m.set(r.value.keyId, r.value)
            w.store = Object.freeze({ keys: m })
            for (const l of w.listeners) l(w.store, r.value)
          }
        }
        if (e.delta === 0) ready()
      }
    })()
    // An empty bucket delivers nothing: don't wait for a first entry that never comes.
    const status = await kv.status()
    if (status.values === 0) ready()
    await initial
    return w
  }

  get(): TrustStore {
    return this.store
  }

  onChange(fn: (s: TrustStore, changed: TrustedKey) => void): void {
    this.listeners.push(fn)
  }

  close(): void {
    this.stopper?.()
  }
}
