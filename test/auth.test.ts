import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager, AckPolicy, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import {
  ensureAuth,
  nkeyConnectOptions,
  sidecarConsumerName,
  sidecarCredentials,
  startNatsServer,
  watchPermissionViolations,
  type AuthSetup,
  type NatsServerHandle,
  type PermissionViolation,
} from '../infra/index.js'
import { registerKey, TrustWatcher, generateKeyPair } from '../keys/index.js'
import { Subjects, StreamAdmin } from '../streams/index.js'
import { FactCodec, Header, type RawFact } from '../schemas/index.js'
import { metricFact } from './support/facts.js'
import { ben, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const codec = new FactCodec()

/** Publishes a fact's Avro bytes on `subject` through JetStream; resolves with the PubAck. */
function publishFact(nc: NatsConnection, subject: string, fact: RawFact) {
  const enc = codec.encode(fact)
  const h = headers()
  h.set(Header.Schema, enc.schema)
  h.set(Header.SchemaFp, enc.fingerprint)
  return jetstream(nc).publish(subject, enc.data, { headers: h, msgID: enc.id, timeout: 2000 })
}

/** Connects as an identity and records every permissions violation the server reports. */
async function connectAs(url: string, seedFile: string): Promise<{ nc: NatsConnection; violations: PermissionViolation[] }> {
  const nc = await connect({ servers: url, ...nkeyConnectOptions(seedFile), reconnect: false })
  const violations: PermissionViolation[] = []
  watchPermissionViolations(nc, (v) => violations.push(v))
  return { nc, violations }
}

const refused = (vs: PermissionViolation[], operation: PermissionViolation['operation'], subject: string) => vs.some((v) => v.operation === operation && v.subject === subject)

async function subjectCount(jsm: JetStreamManager, stream: string, subject: string): Promise<number> {
  const si = await jsm.streams.info(stream, { subjects_filter: subject })
  return si.state.subjects?.[subject] ?? 0
}

describe('NATS authorisation with the generated server configuration', () => {
  const home = tempDir('ben-auth-')
  const subjects = new Subjects()
  let auth: AuthSetup
  let server: NatsServerHandle
  let admin: NatsConnection
  let jsm: JetStreamManager
  let a: { nc: NatsConnection; violations: PermissionViolation[] }

  beforeAll(async () => {
    auth = ensureAuth(home.path, { sidecars: ['a', 'b'] })
    server = await startNatsServer({ storeDir: join(home.path, 'nats'), configFile: auth.configFile })
    admin = await connect({ servers: server.url, ...nkeyConnectOptions(auth.seedFile('processor')) })
    jsm = await jetstreamManager(admin)
    await (await StreamAdmin.open(admin)).ensureTopology({ subjects })
    a = await connectAs(server.url, auth.seedFile('sidecar-a'))
  })
  afterAll(async () => {
    await a?.nc.close().catch(() => undefined)
    await admin?.close().catch(() => undefined)
    await server?.stop()
    home.remove()
  })

  it('writes one owner-only seed per identity and a configuration with one nkey user each', () => {
    const names = auth.identities.map((i) => i.name)
    expect(names).toEqual(['operator', 'processor', 'projector', 'sidecar-a', 'sidecar-b'])
    for (const i of auth.identities) expect(statSync(i.seedFile).mode & 0o777).toBe(0o600)
    expect(statSync(auth.configFile).mode & 0o777).toBe(0o600)
    expect(statSync(auth.dir).mode & 0o777).toBe(0o700)
  })

  it('refuses a connection without a known nkey', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/authorization/i)
  })

  it("lets a sidecar publish its own facts to FACTS (PubAck) and refuses another sidecar's subject", async () => {
    const ack = await publishFact(a.nc, subjects.fact('metric', 'a'), metricFact(1, 'a'))
    expect(ack.stream).toBe('FACTS')
    expect(ack.duplicate).toBe(false)
    expect(await subjectCount(jsm, 'FACTS', 'ben.fact.metric.a')).toBe(1)

    await expect(publishFact(a.nc, subjects.fact('metric', 'b'), metricFact(2, 'b'))).rejects.toThrow(/Permissions Violation for Publish to "ben.fact.metric.b"/)
    expect(refused(a.violations, 'publish', 'ben.fact.metric.b')).toBe(true)
    expect(await subjectCount(jsm, 'FACTS', 'ben.fact.metric.b')).toBe(0)
  })

  it('refuses a sidecar publishing commands, derived facts or acks for others', async () => {
    const forbidden = [
      'ben.cmd.a',
      'ben.cmd.b',
      'ben.anomaly.high.a',
      'ben.decision.act.a',
      'ben.ack.b',
      'ben.dlq.scrub',
      'ben.hello.processor',
      '$KV.ben-keys.key.x',
      '$JS.API.STREAM.DELETE.FACTS',
    ]
    for (const s of forbidden) a.nc.publish(s, 'x')
    a.nc.publish('ben.ack.a', 'x') // its own ack subject is allowed
    await a.nc.flush()
    await waitFor('a violation for each', () => forbidden.every((s) => refused(a.violations, 'publish', s)) || undefined, 120_000, 20)
    expect(refused(a.violations, 'publish', 'ben.ack.a')).toBe(false)
    expect(await subjectCount(jsm, 'COMMANDS', 'ben.ack.a')).toBe(1)
    expect(await subjectCount(jsm, 'COMMANDS', 'ben.cmd.b')).toBe(0)
    expect((await jsm.streams.info('DERIVED')).state.messages).toBe(0)
  })

  it("refuses a sidecar subscribing to another sidecar's commands or to every inbox; its own commands arrive", async () => {
    const other = a.nc.subscribe('ben.cmd.b')
    const inboxes = a.nc.subscribe('_INBOX.>')
    const own = a.nc.subscribe('ben.cmd.a', { max: 1 })
    await expect(other.closed).resolves.toMatchObject({ name: 'PermissionViolationError' })
    await expect(inboxes.closed).resolves.toMatchObject({ name: 'PermissionViolationError' })
    expect(refused(a.violations, 'subscription', 'ben.cmd.b')).toBe(true)
    expect(refused(a.violations, 'subscription', '_INBOX.>')).toBe(true)
    await a.nc.flush()
    admin.publish('ben.cmd.a', 'for a')
    admin.publish('ben.cmd.b', 'for b')
    for await (const m of own) expect(m.string()).toBe('for a')
    expect(own.isClosed()).toBe(true)
  })

  it('lets a sidecar consume its commands through its own durable consumer, and no other', async () => {
    const sjsm = await jetstreamManager(a.nc)
    const durable = sidecarConsumerName('a')
    await sjsm.consumers.add('COMMANDS', { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: 'ben.cmd.a' })
    // the same name with a wider filter, another sidecar's consumer, a push consumer delivering elsewhere
    await expect(sjsm.consumers.add('COMMANDS', { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: 'ben.cmd.>' })).rejects.toThrow(/Permissions Violation/)
    await expect(sjsm.consumers.add('COMMANDS', { durable_name: sidecarConsumerName('b'), ack_policy: AckPolicy.Explicit, filter_subject: 'ben.cmd.b' })).rejects.toThrow(
      /Permissions Violation/,
    )
    await expect(sjsm.consumers.info('COMMANDS', 'some-processor')).rejects.toThrow(/Permissions Violation/)
    const forged = await a.nc.request(
      `$JS.API.CONSUMER.CREATE.COMMANDS.${durable}.ben.cmd.a`,
      JSON.stringify({ stream_name: 'COMMANDS', config: { durable_name: durable, name: durable, ack_policy: 'explicit', filter_subject: 'ben.cmd.b' } }),
    )
    expect(forged.json<{ error?: { err_code: number } }>().error?.err_code).toBe(10131)
    const clean = a.violations.length

    await jetstream(admin).publish('ben.cmd.a', 'command 1')
    await jetstream(admin).publish('ben.cmd.b', 'command for b')
    const c = await jetstream(a.nc).consumers.get('COMMANDS', durable)
    const seen: string[] = []
    for (let i = 0; i < 2; i++) {
      const m = await c.next({ expires: 2000 })
      expect(m?.subject).toBe('ben.cmd.a')
      seen.push(m!.string())
      await m!.ackAck()
    }
    // 'for a' came in the core publish of the previous test (COMMANDS keeps ben.cmd.>); nothing for b
    expect(seen).toEqual(['for a', 'command 1'])
    const info = await sjsm.consumers.info('COMMANDS', durable)
    expect(info.num_ack_pending).toBe(0)
    expect(info.num_pending).toBe(0)
    expect(a.violations.slice(clean)).toEqual([])
  })

  it('lets a sidecar read and watch the trusted keys, and not change them', async () => {
    const before = a.violations.length
    const kv = await new Kvm(admin).open('ben-keys')
    const issuer = generateKeyPair('issuer')
    await registerKey(kv, issuer)
    const w = await TrustWatcher.open(a.nc, 'ben-keys')
    expect(w.get().keys.get(issuer.keyId)?.publicKey).toEqual(issuer.publicKey)
    w.close()
    await a.nc.flush()
    expect(a.violations.slice(before)).toEqual([])
    const skv = await new Kvm(a.nc).open('ben-keys')
    await expect(skv.put('key.forged', '{}')).rejects.toThrow(/Permissions Violation/)
  })

  it('lets the operator read, query-request, publish facts and commands, but not create streams or publish derived facts', async () => {
    const op = await connectAs(server.url, auth.seedFile('operator'))
    try {
      const ojsm = await jetstreamManager(op.nc)
      expect((await ojsm.streams.info('FACTS')).state.messages).toBeGreaterThan(0)
      expect((await publishFact(op.nc, subjects.fact('metric', 'web-9'), metricFact(3, 'web-9'))).stream).toBe('FACTS')
      await expect(ojsm.streams.add({ name: 'ROGUE', subjects: ['rogue.>'] })).rejects.toThrow(/Permissions Violation/)
      op.nc.publish('ben.anomaly.high.web-9', 'x')
      await op.nc.flush()
      await waitFor('the violation', () => refused(op.violations, 'publish', 'ben.anomaly.high.web-9') || undefined, 120_000, 20)
    } finally {
      await op.nc.close()
    }
  })

  it('least privilege: projector and operator cannot pull, ack, re-create or delete a stage consumer; the processor is not a stream admin', async () => {
    const stageConsumer = 'stage-scrub-routine'
    await jsm.consumers.add('FACTS', { durable_name: stageConsumer, ack_policy: AckPolicy.All, filter_subject: 'ben.fact.>' })
    await jsm.consumers.add('DERIVED', { durable_name: 'proj-anomalies', ack_policy: AckPolicy.Explicit, filter_subject: 'ben.anomaly.>' })
    const proj = await connectAs(server.url, auth.seedFile('projector'))
    const op = await connectAs(server.url, auth.seedFile('operator'))
    try {
      for (const who of [proj, op]) {
        const wjsm = await jetstreamManager(who.nc)
        await expect(wjsm.consumers.delete('FACTS', stageConsumer)).rejects.toThrow(/Permissions Violation/)
        await expect(wjsm.consumers.add('FACTS', { durable_name: stageConsumer, ack_policy: AckPolicy.All, filter_subject: 'ben.fact.metric.>' })).rejects.toThrow(
          /Permissions Violation/,
        )
        await expect(wjsm.consumers.update('FACTS', stageConsumer, { max_ack_pending: 1 })).rejects.toThrow(/Permissions Violation/)
        who.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.FACTS.${stageConsumer}`, JSON.stringify({ batch: 10, expires: 1_000_000_000 }), { reply: '_INBOX.x' })
        await who.nc.flush()
        await waitFor('the pull refused', () => refused(who.violations, 'publish', `$JS.API.CONSUMER.MSG.NEXT.FACTS.${stageConsumer}`) || undefined, 120_000, 20)
        who.nc.publish(`$JS.ACK.FACTS.${stageConsumer}.1.1.1.1.0`, '+ACK')
        await who.nc.flush()
        await waitFor('the forged ack refused', () => refused(who.violations, 'publish', `$JS.ACK.FACTS.${stageConsumer}.1.1.1.1.0`) || undefined, 120_000, 20)
        // its own consumers stay its to manage
        const mine = who === proj ? 'proj-facts' : 'tail-operator-1'
        await wjsm.consumers.add('FACTS', { durable_name: mine, ack_policy: AckPolicy.Explicit, filter_subject: 'ben.fact.>' })
        await wjsm.consumers.delete('FACTS', mine)
      }
      // the operator cannot touch a projector's consumer either; the projector can
      await expect((await jetstreamManager(op.nc)).consumers.delete('DERIVED', 'proj-anomalies')).rejects.toThrow(/Permissions Violation/)
      const info = await jsm.consumers.info('FACTS', stageConsumer)
      expect(info.config.max_ack_pending).not.toBe(1)
      expect(info.ack_floor.stream_seq).toBe(0)
      expect(info.delivered.stream_seq).toBe(0)
      await (await jetstreamManager(proj.nc)).consumers.delete('DERIVED', 'proj-anomalies')

      // the processor re-positions its own consumers but cannot delete or purge a stream
      await publishFact(admin, subjects.fact('metric', 'lp'), metricFact(40, 'lp'))
      const before = (await jsm.streams.info('FACTS')).state.messages
      expect(before).toBeGreaterThan(0)
      await expect(jsm.streams.purge('FACTS')).rejects.toThrow(/Permissions Violation/)
      await expect(jsm.streams.delete('FACTS')).rejects.toThrow(/Permissions Violation/)
      await expect(jsm.streams.deleteMessage('FACTS', 1)).rejects.toThrow(/Permissions Violation/)
      expect((await jsm.streams.info('FACTS')).state.messages).toBe(before)
      await jsm.consumers.delete('FACTS', stageConsumer)
    } finally {
      await proj.nc.close()
      await op.nc.close()
    }
  })
})

describe('ben up --secure, as a user runs it', () => {
  const home = tempDir('ben-secure-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }
  let up: Background

  beforeAll(async () => {
    up = await benUp(env, ['--secure', '--sidecars', 'web-1'])
  })
  afterAll(async () => {
    await up?.stop('SIGINT')
    home.remove()
  })

  it('runs Ben as the processor; ben publish and ben query work as the operator', async () => {
    expect(up.output()).toMatch(/security {4}nkey users/)
    expect(up.output()).toMatch(/sidecar {5}web-1: BEN_NATS_NKEY=.*sidecar-web-1\.nk/)
    await expect(connect({ servers: up.endpoints().natsUrl, reconnect: false })).rejects.toThrow(/authorization/i)
    const input = [
      '{"lane":"metric","source":"web-1","ts":1763700000000,"name":"cpu.load","value":0.5}',
      '{"lane":"event","source":"web-2","ts":1763700000100,"type":"auth.login","message":"ok","attrs":{}}',
    ].join('\n')
    const p = await ben(['publish', '-'], env, input)
    expect(p.code, p.stderr).toBe(0)
    expect(p.stdout).toMatch(/stored 2, duplicate 0, rejected 0, failed 0/)
    const rows = await waitFor(
      'both facts in ClickHouse',
      async () => {
        const q = await ben(['query', 'SELECT source FROM facts ORDER BY source', '--format', 'json'], env)
        if (q.code !== 0) throw new Error(q.stderr)
        const r = JSON.parse(q.stdout) as Array<{ source: string }>
        return r.length === 2 ? r : undefined
      },
      120_000,
      250,
    )
    expect(rows.map((r) => r.source)).toEqual(['web-1', 'web-2'])
  })

  it('admits a sidecar added while running (reload), and its facts keep the identity the server authorised', async () => {
    const creds = await sidecarCredentials(home.path, 'a')
    expect(creds.reloaded).toBe(true)
    expect(statSync(creds.seedFile).mode & 0o777).toBe(0o600)
    const url = up.endpoints().natsUrl
    const sa = await connectAs(url, creds.seedFile)
    const op = await connect({ servers: url, ...nkeyConnectOptions(join(home.path, 'creds', 'operator.nk')) })
    try {
      const ojsm = await jetstreamManager(op)
      // A body that claims source b, on A's own subject: stored (the server allowed the subject), refused by scrub.
      await publishFact(sa.nc, 'ben.fact.metric.a', metricFact(10, 'b'))
      sa.nc.publish('ben.fact.metric.a', JSON.stringify({ lane: 'metric', source: 'b', ts: 1763700000500, name: 'cpu.load', value: 9 }))
      // B's subject itself: refused by the server.
      await expect(publishFact(sa.nc, 'ben.fact.metric.b', metricFact(11, 'b'))).rejects.toThrow(/Permissions Violation/)
      await publishFact(sa.nc, 'ben.fact.metric.a', metricFact(12, 'a'))
      await waitFor('both forgeries in the DLQ', async () => ((await subjectCount(ojsm, 'DLQ', 'ben.dlq.scrub')) >= 2 ? true : undefined), 120_000, 200)
      const sources = await waitFor(
        "A's honest fact in ClickHouse",
        async () => {
          const q = await ben(['query', "SELECT source, count() AS n FROM facts WHERE source IN ('a', 'b') GROUP BY source ORDER BY source", '--format', 'json'], env)
          const r = JSON.parse(q.stdout) as Array<{ source: string; n: number | string }>
          return r.length > 0 ? r : undefined
        },
        120_000,
        250,
      )
      expect(sources.map((r) => [r.source, Number(r.n)])).toEqual([['a', 1]])
      expect(await subjectCount(ojsm, 'FACTS', 'ben.fact.metric.b')).toBe(0)
      expect(await subjectCount(ojsm, 'DERIVED', 'ben.scrubbed.metric.b')).toBe(0)
    } finally {
      await sa.nc.close()
      await op.close()
    }
  })
})
