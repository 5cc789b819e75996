import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { nkeys } from '@nats-io/nats-core'
import fc from 'fast-check'
import { subjectMatches } from '../../streams/index.js'
import { readEnv } from '../config.js'
import { findNatsServer } from '../nats-server.js'
import { nkeySeedFile, nkeyConnectOptions } from './connect-auth.js'
import { ensureIdentity, listIdentities, readIdentity } from './identities.js'
import { operatorPermissions, processorPermissions, projectorPermissions, sidecarPermissions, sidecarInboxPrefix } from './permissions.js'
import { ensureAuth, permissionsOf, sidecarCredentials } from './provision.js'
import { parseSidecarList } from './secure-up.js'
import { renderServerConfig, type AuthUser } from './server-config.js'

function withHome(fn: (home: string) => void): void {
  const home = mkdtempSync(join(tmpdir(), 'ben-auth-unit-'))
  try {
    fn(home)
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

async function withHomeAsync(fn: (home: string) => Promise<void>): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'ben-auth-unit-'))
  try {
    await fn(home)
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

const allowed = (list: readonly string[], subject: string) => list.some((p) => subjectMatches(p, subject))

describe('permission sets', () => {
  it('a sidecar publishes only its own facts, ack and hello among Ben subjects, and subscribes only its commands and inbox', () => {
    const p = sidecarPermissions('web-3')
    for (const s of ['ben.fact.metric.web-3', 'ben.fact.alert.web-3', 'ben.ack.web-3', 'ben.hello.sidecar.web-3']) expect(allowed(p.publish, s), s).toBe(true)
    for (const s of [
      'ben.fact.metric.web-4',
      'ben.cmd.web-3',
      'ben.anomaly.high.web-3',
      'ben.scrubbed.metric.web-3',
      'ben.ack.web-4',
      'ben.dlq.scrub',
      'ben.svc.query',
      '$KV.ben-keys.key.x',
      '$JS.API.STREAM.CREATE.FACTS',
      '$JS.API.CONSUMER.MSG.NEXT.COMMANDS.sidecar-web-4',
      '$JS.ACK.COMMANDS.act.1.1.1.1.1',
    ])
      expect(allowed(p.publish, s), s).toBe(false)
    expect(p.subscribe).toEqual(['ben.cmd.web-3', '_INBOX_web-3.>'])
    // no wildcard that reaches another sidecar: every Ben subject it may publish names web-3
    expect(p.publish.filter((s) => s.startsWith('ben.')).every((s) => s.endsWith('.web-3'))).toBe(true)
  })

  it('follows the subject prefix and the stream prefix', () => {
    const p = sidecarPermissions('a', { prefix: 'acme.ben', streamPrefix: 'T1' })
    expect(p.publish).toContain('acme.ben.fact.*.a')
    expect(p.publish).toContain('$JS.API.CONSUMER.CREATE.T1_COMMANDS.sidecar-a.acme.ben.cmd.a')
    expect(p.publish).toContain('$JS.API.STREAM.INFO.KV_t1-ben-keys')
    expect(p.subscribe).toContain('acme.ben.cmd.a')
    expect(processorPermissions({ prefix: 'acme.ben' }).publish).toContain('acme.ben.>')
  })

  it('the operator publishes facts and commands but no derived facts, acks or checkpoints, and creates no streams', () => {
    const p = operatorPermissions()
    for (const s of ['ben.fact.metric.x', 'ben.cmd.web-3', 'ben.svc.query', '$KV.ben-policy.pack', '$KV.ben-keys.key.1', '$JS.API.STREAM.INFO.FACTS'])
      expect(allowed(p.publish, s), s).toBe(true)
    for (const s of [
      'ben.anomaly.high.x',
      'ben.scrubbed.metric.x',
      'ben.ack.web-3',
      '$KV.ben-checkpoints.stage.scrub',
      '$JS.API.STREAM.CREATE.X',
      '$JS.API.STREAM.DELETE.FACTS',
      '$JS.API.STREAM.PURGE.FACTS',
    ])
      expect(allowed(p.publish, s), s).toBe(false)
  })

  it('a projector publishes no facts at all, only dead letters', () => {
    const p = projectorPermissions()
    expect(allowed(p.publish, 'ben.dlq.project-facts')).toBe(true)
    for (const s of ['ben.fact.metric.x', 'ben.scrubbed.metric.x', 'ben.cmd.x', '$KV.ben-keys.key.1']) expect(allowed(p.publish, s), s).toBe(false)
  })

  it('refuses sidecar ids that are no safe token', () => {
    for (const id of ['', 'a.b', 'a*', 'a>', 'a b', '-a', 'x'.repeat(65), 'ü']) expect(() => sidecarPermissions(id), id).toThrow(/cannot carry NATS credentials/)
    expect(() => parseSidecarList('a,b c')).toThrow(/--sidecars/)
    expect(parseSidecarList(' a, b ,a,,')).toEqual(['a', 'b'])
  })
})

describe('server configuration', () => {
  const user = (name: string): AuthUser => ({ name, nkey: nkeys.createUser().getPublicKey(), permissions: permissionsOf(name)! })

  it('is deterministic and independent of the order of users', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), { minLength: 1, maxLength: 6 }), (ids) => {
        const users = ids.map((id) => user(`sidecar-${id}`))
        expect(renderServerConfig([...users].reverse())).toBe(renderServerConfig(users))
      }),
      { numRuns: 30 },
    )
  })

  it('refuses what would make a broken or ambiguous file', () => {
    const u = user('operator')
    expect(() => renderServerConfig([])).toThrow(/at least one user/)
    expect(() => renderServerConfig([{ ...u, nkey: 'SUXXXX' }])).toThrow(/not a public user nkey/)
    expect(() => renderServerConfig([u, { ...u, name: 'other' }])).toThrow(/used twice/)
    expect(() => renderServerConfig([{ ...u, permissions: { publish: [], subscribe: ['x'] } }])).toThrow(/may not be empty/)
    expect(() => renderServerConfig([{ ...u, permissions: { publish: ['a" b'], subscribe: ['x'] } }])).toThrow(/cannot go into/)
    expect(() => renderServerConfig([u], { storeDir: '/tmp/"x' })).toThrow(/store directory/)
  })

  it('is accepted by nats-server (-t)', () => {
    withHome((home) => {
      const setup = ensureAuth(home, { sidecars: ['web-1', 'web-2'], prefix: 'ben', streamPrefix: 'T1' })
      const r = spawnSync(findNatsServer(), ['-c', setup.configFile, '-t'], { encoding: 'utf8' })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout + r.stderr).toMatch(/configuration file .* is valid/)
      const text = readFileSync(setup.configFile, 'utf8')
      expect(text.match(/nkey: "U/g)).toHaveLength(5)
      expect(text).toContain(`jetstream { store_dir: "${join(home, 'nats')}" }`)
    })
  })
})

describe('identities and provisioning', () => {
  it('keeps seeds owner-only and never replaces one', () => {
    withHome((home) => {
      const dir = join(home, 'creds')
      const first = ensureIdentity(dir, 'operator')
      expect(ensureIdentity(dir, 'operator')).toEqual(first)
      expect(statSync(first.seedFile).mode & 0o777).toBe(0o600)
      expect(readIdentity(first.seedFile).publicKey).toMatch(/^U[A-Z2-7]{55}$/)
      writeFileSync(join(dir, 'junk.nk'), 'not a seed')
      expect(() => listIdentities(dir)).toThrow(/does not hold a user nkey seed/)
    })
  })

  it('ensureAuth is idempotent; a new sidecar changes the configuration, without a running server nothing is reloaded', async () => {
    await withHomeAsync(async (home) => {
      const a = ensureAuth(home)
      expect(a.changed).toBe(true)
      expect(ensureAuth(home).changed).toBe(false)
      const c = await sidecarCredentials(home, 'web-7')
      expect(c.reloaded).toBe(false)
      expect(c.inboxPrefix).toBe('_INBOX_web-7')
      expect(c.consumer).toBe('sidecar-web-7')
      expect(readFileSync(a.configFile, 'utf8')).toContain(readIdentity(c.seedFile).publicKey)
      expect(ensureAuth(home).identities.map((i) => i.name)).toEqual(['operator', 'processor', 'projector', 'sidecar-web-7'])
    })
  })

  it('connections use BEN_NATS_NKEY, else the operator seed when no other credentials are set; a sidecar seed sets its inbox prefix', () => {
    withHome((home) => {
      expect(nkeySeedFile(readEnv({ BEN_HOME: home }))).toBeUndefined()
      const setup = ensureAuth(home, { sidecars: ['s1'] })
      expect(nkeySeedFile(readEnv({ BEN_HOME: home }))).toBe(setup.seedFile('operator'))
      expect(nkeySeedFile(readEnv({ BEN_HOME: home, BEN_NATS_TOKEN: 't' }))).toBeUndefined()
      expect(nkeySeedFile(readEnv({ BEN_HOME: home, BEN_NATS_NKEY: setup.seedFile('sidecar-s1') }))).toBe(setup.seedFile('sidecar-s1'))
      expect(nkeyConnectOptions(setup.seedFile('sidecar-s1')).inboxPrefix).toBe(sidecarInboxPrefix('s1'))
      expect(nkeyConnectOptions(setup.seedFile('operator')).inboxPrefix).toBeUndefined()
    })
  })
})
