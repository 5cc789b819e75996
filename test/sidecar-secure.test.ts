/**
 * The sidecar as its own nkey user under the generated server configuration (infra/auth):
 * facts, the hello, commands and acks all work with the sidecar role's allow-list. What the
 * role does not grant (registering its own key, following ben-redaction, reading the last
 * stored facts) is refused by the server; the sidecar carries on without it, and those are the
 * only refusals.
 */
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FactCodec, Header, type AckFact, type CommandFact } from '../schemas/index.js'
import { FactPublisher, Subjects, StreamAdmin } from '../streams/index.js'
import { ensureAuth, nkeyConnectOptions, startNatsServer, watchPermissionViolations, type AuthSetup, type NatsServerHandle, type PermissionViolation } from '../infra/index.js'
import { registerKey, generateKeyPair, signCommand } from '../keys/index.js'
import { createSidecar } from '../sidecar/index.js'
import { tempDir, waitFor } from './support/servers.js'
import { readStream } from './support/sidecar.js'

const home = tempDir('ben-sidecar-secure-')
const ISSUER = generateKeyPair('issuer', new Uint8Array(32).fill(41))
const SIDECAR = generateKeyPair('sidecar', new Uint8Array(32).fill(42))
const codec = new FactCodec()
let auth: AuthSetup
let server: NatsServerHandle
let admin: NatsConnection

beforeAll(async () => {
  auth = ensureAuth(home.path, { sidecars: ['web-3'] })
  server = await startNatsServer({ storeDir: join(home.path, 'nats'), configFile: auth.configFile })
  admin = await connect({ servers: server.url, ...nkeyConnectOptions(auth.seedFile('processor')) })
  await (await StreamAdmin.open(admin)).ensureTopology({ subjects: new Subjects() })
  const kv = await new Kvm(admin).open('ben-keys')
  await registerKey(kv, ISSUER)
  await registerKey(kv, SIDECAR, { owner: 'web-3' }) // an operator registers the sidecar's key
})
afterAll(async () => {
  await admin?.close().catch(() => undefined)
  await server?.stop()
  home.remove()
})

describe('sidecar under the sidecar role', () => {
  it('delivers facts, announces itself and answers commands with only its own permissions', async () => {
    const nc = await connect({ servers: server.url, ...nkeyConnectOptions(auth.seedFile('sidecar-web-3')), maxReconnectAttempts: -1 })
    const violations: PermissionViolation[] = []
    watchPermissionViolations(nc, (v) => violations.push(v))
    const ran: unknown[] = []
    let goOnline: (c: NatsConnection) => void = () => undefined
    const sc = await createSidecar({
      id: 'web-3',
      nats: new Promise<NatsConnection>((r) => (goOnline = r)),
      walDir: join(home.path, 'sc', 'wal'),
      keyPair: SIDECAR,
      handlers: { set_mode: (a) => void ran.push(a) },
    })
    const acks: AckFact[] = []
    const sub = admin.subscribe('ben.ack.web-3', {
      callback: (_e, m) => {
        const r = codec.decode(m.data, m.headers?.get(Header.SchemaFp))
        if (r.ok && r.value.kind === 'ack') acks.push(r.value)
      },
    })
    try {
      const r = await sc.accept(Array.from({ length: 200 }, (_, i) => ({ lane: 'metric', ts: 1_763_700_000_000 + i, name: 'load', value: i, labels: {} })))
      expect(r.accepted).toBe(200)
      goOnline(nc) // a backlog to resume: the drain tries to read what already landed first
      await waitFor('200 facts of web-3', async () => (await readStream(admin, 'FACTS', 'ben.fact.*.web-3')).length === 200 || undefined, 120_000)
      await sc.online

      const payload = signCommand({ verb: 'set_mode', target: 'web-3', args: '{"mode":"degraded"}' }, ISSUER, { issuedAt: Date.now(), ttlMs: 60_000, decisionId: 'secure-1' })
      const cmd: CommandFact = {
        id: 'cmd-secure-1',
        ts: Date.now(),
        source: 'act',
        lane: 'control',
        kind: 'command',
        payload,
        lineage: [],
        producer: 'act@1',
        config: {},
        explain: 'test',
      }
      const pub = new FactPublisher(admin, new Subjects(), codec)
      expect((await pub.publish(cmd)).status).toBe('stored')
      await pub.close()
      const ack = await waitFor('the ack', () => acks.find((a) => a.payload.commandId === payload.commandId), 120_000)
      expect(ack.payload).toMatchObject({ status: 'executed', target: 'web-3', keyId: SIDECAR.keyId })
      expect(ran).toEqual([{ mode: 'degraded' }])
      const hello = await (await jetstreamManager(admin)).streams.getMessage('HELLO', { last_by_subj: 'ben.hello.sidecar.web-3' })
      expect(hello).not.toBeNull()

      // the only refusal: registering its own key in ben-keys (an operator does that); it reads
      // the redaction manifest and its own last stored facts with its own permissions
      const refused = [...new Set(violations.map((v) => v.subject))].sort()
      expect(refused).toEqual([`$KV.ben-keys.key.${SIDECAR.keyId}`])
      expect(sc.status().drain).toMatchObject({ reconciled: 0, stored: 200 })
    } finally {
      sub.unsubscribe()
      await sc.close()
      await nc.close()
    }
  })
})
