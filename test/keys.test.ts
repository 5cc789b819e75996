import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kvm } from '@nats-io/kv'
import { readKey, trustStore, lookupKey } from '../keys/index.js'
import { ben } from './support/cli.js'
import { startTestNats, tempDir, type TestNats } from './support/servers.js'

describe('ben keys: generate, register, rotate with a grace period, revoke, list', () => {
  let nats: TestNats
  const home = tempDir('ben-keys-')
  let env: Record<string, string>

  beforeAll(async () => {
    nats = await startTestNats()
    env = { BEN_HOME: home.path, BEN_NATS_URL: nats.server.url }
  })
  afterAll(async () => {
    await nats?.stop()
    home.remove()
  })

  it('rotates: the new key is trusted at once, the old one until the grace period ends', async () => {
    const gen = await ben(['keys', 'generate', '--role', 'operator', '--register', '--format', 'json'], env)
    expect(gen.code, gen.stderr).toBe(0)
    const first = JSON.parse(gen.stdout) as { keyId: string; role: string }
    expect(first.role).toBe('operator')

    const before = Date.now()
    const rot = await ben(['keys', 'rotate', '--name', 'operator', '--grace', '1h'], env)
    expect(rot.code, rot.stderr).toBe(0)
    const next = /new ([0-9a-f]{16})/.exec(rot.stdout)?.[1]
    expect(next).toBeDefined()
    expect(next).not.toBe(first.keyId)

    const kv = await new Kvm(nats.nc).open('ben-keys')
    const old = await readKey(kv, first.keyId)
    const fresh = await readKey(kv, next!)
    expect(fresh).toMatchObject({ role: 'operator', revokedAt: null })
    expect(old?.revokedAt).toBeGreaterThanOrEqual(before + 3_600_000)
    expect(old?.revokedAt).toBeLessThanOrEqual(Date.now() + 3_600_000)
    // Verifiers: the old key is valid now, refused after the grace period.
    const store = trustStore([old!, fresh!])
    expect(lookupKey(store, first.keyId, Date.now()).ok).toBe(true)
    expect(lookupKey(store, first.keyId, Date.now() + 3_600_001)).toMatchObject({ ok: false, error: { reason: 'revoked_key' } })

    const rev = await ben(['keys', 'revoke', next!], env)
    expect(rev.code, rev.stderr).toBe(0)
    const list = await ben(['keys', 'list', '--format', 'json'], env)
    const keys = JSON.parse(list.stdout) as Array<{ keyId: string; revokedAt: string | null; localFile: string | null }>
    expect(keys.find((k) => k.keyId === next)?.revokedAt).not.toBeNull()
    expect(keys.find((k) => k.keyId === next)?.localFile).toBe('operator')
    expect(keys.find((k) => k.keyId === first.keyId)?.localFile).toBe(`operator-${first.keyId}`)
  })

  it('refuses a bad role and an unknown key with one line', async () => {
    const r = await ben(['keys', 'generate', '--role', 'admin'], env)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim()).toMatch(/^ben: --role must be one of issuer, operator, sidecar/)
    const u = await ben(['keys', 'revoke', 'ffffffffffffffff'], env)
    expect(u.code).not.toBe(0)
    expect(u.stderr.trim()).toMatch(/not registered/)
  })
})
