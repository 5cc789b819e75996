/**
 * The sidecar's command path against a real nats-server: commands signed with processors/act
 * by an issuer key registered in ben-keys, published on ben.cmd.<id>; the sidecar verifies
 * (trust from its live ben-keys watch), runs the handler and answers with a signed ack on
 * ben.ack.<id>: executed, refused with the reason, or failed with the error.
 */
import { join } from 'node:path'
import { Kvm, type KV } from '@nats-io/kv'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Subscription } from '@nats-io/nats-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FactCodec, Header, type AckFact, type CommandFact, type CommandPayload } from '../schemas/index.js'
import { FactPublisher } from '../streams/index.js'
import { registerKey, revokeRegisteredKey, TrustWatcher, approve, generateKeyPair, signCommand, verifyAck, type KeyPair } from '../keys/index.js'
import { createSidecar, type Sidecar } from '../sidecar/index.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
const ISSUER = generateKeyPair('issuer', seed(21))
const ISSUER_2 = generateKeyPair('issuer', seed(22)) // revoked during the test
const OPERATOR = generateKeyPair('operator', seed(23))
const STRANGER = generateKeyPair('issuer', seed(24)) // never registered
const SIDECAR = generateKeyPair('sidecar', seed(25))

let t: TestNats
let kv: KV
let publisher: FactPublisher
const acks: AckFact[] = []
let sub: Subscription
const dir = tempDir('ben-sidecar-cmd-')
const codec = new FactCodec()

let n = 0
function command(
  o: { verb?: string; args?: string; target?: string; issuedAt?: number; ttlMs?: number; key?: KeyPair; required?: Array<'issuer' | 'operator'> } = {},
): CommandFact {
  const issuedAt = o.issuedAt ?? Date.now()
  const payload = signCommand({ verb: o.verb ?? 'set_mode', target: o.target ?? 'web-3', args: o.args ?? '{"mode":"degraded"}' }, o.key ?? ISSUER, {
    issuedAt,
    ttlMs: o.ttlMs ?? 60_000,
    decisionId: `d-${++n}-${Date.now()}`,
    ...(o.required ? { required: o.required } : {}),
  })
  return asFact(payload, issuedAt)
}
const asFact = (payload: CommandPayload, ts: number, salt = ''): CommandFact => ({
  id: `cmd-${payload.commandId}-${payload.status}${salt}`,
  ts,
  source: 'act',
  lane: 'control',
  kind: 'command',
  payload,
  lineage: [payload.decisionId],
  producer: 'act@1',
  config: {},
  explain: 'test command',
})

async function send(cmd: CommandFact): Promise<void> {
  const o = await publisher.publish(cmd, 'ben.cmd.web-3') // on this target's subject whatever the payload says
  expect(o.status).toBe('stored')
}
const ackFor = (cmd: CommandFact, status?: string) =>
  waitFor(
    `the ack of ${cmd.payload.verb} ${cmd.payload.commandId}`,
    () => acks.find((a) => a.payload.commandId === cmd.payload.commandId && (!status || a.payload.status === status)),
    120_000,
  )

const calls: Array<{ verb: string; args: unknown }> = []
const handlers = {
  set_mode: (args: unknown) => {
    calls.push({ verb: 'set_mode', args })
    if ((args as { mode: string }).mode === 'maintenance') throw new Error('maintenance mode is locked on this host')
  },
  quarantine_artifact: async (args: unknown) => {
    await new Promise((r) => setTimeout(r, 5))
    calls.push({ verb: 'quarantine_artifact', args })
  },
}
const start = (): Promise<Sidecar> => createSidecar({ id: 'web-3', nats: t.nc, walDir: join(dir.path, 'wal'), keyPair: SIDECAR, handlers })

beforeAll(async () => {
  t = await startTestNats()
  kv = await new Kvm(t.nc).open('ben-keys')
  for (const k of [ISSUER, ISSUER_2, OPERATOR]) await registerKey(kv, k)
  publisher = new FactPublisher(t.nc, t.subjects, codec)
  sub = t.nc.subscribe('ben.ack.web-3', {
    callback: (_e, m) => {
      const r = codec.decode(m.data, m.headers?.get(Header.SchemaFp))
      if (r.ok && r.value.kind === 'ack') acks.push(r.value)
    },
  })
})
afterAll(async () => {
  sub?.unsubscribe()
  await publisher?.close()
  await t?.stop()
  dir.remove()
})

describe('sidecar commands', () => {
  it('executes valid commands with a verifiable signed ack; refuses forged, expired, replayed, misdirected, revoked and unknown ones with the reason; reports handler failures', async () => {
    const sc = await start()
    await sc.online
    try {
      const valid = command()
      await send(valid)
      const ok = await ackFor(valid)
      expect(ok.payload).toMatchObject({ status: 'executed', reason: null, target: 'web-3', verb: 'set_mode', keyId: SIDECAR.keyId })
      expect(ok.lineage).toEqual([valid.id])
      expect(calls).toEqual([{ verb: 'set_mode', args: { mode: 'degraded' } }])
      const trust = await TrustWatcher.open(t.nc, 'ben-keys') // the sidecar registered its key with owner = web-3
      expect(trust.get().keys.get(SIDECAR.keyId)).toMatchObject({ role: 'sidecar', owner: 'web-3' })
      expect(verifyAck(ok.payload, trust.get(), Date.now())).toEqual({ ok: true })
      trust.close()

      const tampered = { ...valid, id: `${valid.id}-tampered`, payload: { ...valid.payload, args: '{"mode":"maintenance"}', commandId: `${valid.payload.commandId}x` } }
      const unknownKey = command({ key: STRANGER })
      const expired = command({ issuedAt: Date.now() - 120_000, ttlMs: 60_000 })
      const replayed = asFact(valid.payload, valid.ts, '-again') // same command, new message
      const misdirected = command({ target: 'web-4' })
      const unknownVerb = command({ verb: 'reboot', args: '{}' })
      const unhandled = command({ verb: 'throttle_job', args: '{"job":"batch-7","factor":0.5}' })
      const failing = command({ args: '{"mode":"maintenance"}' })
      const cases: Array<[CommandFact, string, string]> = [
        [tampered, 'refused', 'bad_signature'],
        [unknownKey, 'refused', 'unknown_key'],
        [expired, 'refused', 'expired'],
        [replayed, 'refused', 'replayed'],
        [misdirected, 'refused', 'wrong_target'],
        [unknownVerb, 'refused', 'unknown_verb'],
        [unhandled, 'refused', 'unknown_verb'],
        [failing, 'failed', 'Error: maintenance mode is locked on this host'],
      ]
      for (const [cmd] of cases) await send(cmd)
      const watcher = await TrustWatcher.open(t.nc, 'ben-keys')
      for (const [cmd, status, reason] of cases) {
        const a = await ackFor(cmd, status)
        expect(a.payload.reason?.startsWith(reason), `${cmd.payload.verb} ${status}: ${a.payload.reason}`).toBe(true)
        expect(a.payload.target).toBe('web-3') // a misdirected command is answered by this sidecar as itself
        expect(verifyAck(a.payload, watcher.get(), Date.now())).toEqual({ ok: true })
      }
      watcher.close()
      expect(calls.length).toBe(2) // the valid one and the failing one: nothing refused ever ran

      // a revocation reaches the sidecar through its ben-keys watch within a second
      const before = command({ key: ISSUER_2 })
      await send(before)
      expect((await ackFor(before)).payload.status).toBe('executed')
      await revokeRegisteredKey(kv, ISSUER_2.keyId, Date.now())
      // Until the revocation has reached the sidecar's watch, a command may still run: send
      // fresh ones until one is refused (the observable sign that the watch has it).
      const refused = await waitFor(
        'a command signed with the revoked key to be refused',
        async () => {
          const after = command({ key: ISSUER_2 })
          await send(after)
          const ack = await ackFor(after)
          return ack.payload.status === 'refused' ? ack : undefined
        },
        120_000,
        50,
      )
      expect(refused.payload.reason).toMatch(/^revoked_key: /)

      // proposals are records, not instructions: no ack, nothing runs; the approved one executes
      const proposal = command({ verb: 'quarantine_artifact', args: '{"path":"/tmp/x"}', required: ['issuer', 'operator'] })
      await send(proposal)
      const approved = approve(proposal, OPERATOR, Date.now())
      if (!approved.ok) throw approved.error
      await send(approved.value)
      expect((await ackFor(approved.value)).payload.status).toBe('executed')
      expect(acks.filter((a) => a.payload.commandId === proposal.payload.commandId).length).toBe(1)
      expect(calls.at(-1)).toEqual({ verb: 'quarantine_artifact', args: { path: '/tmp/x' } })

      const s = sc.status().commands
      expect(s).toMatchObject({
        executed: 3,
        failed: 1,
        ignored: 1,
        refused: { bad_signature: 1, unknown_key: 1, expired: 1, replayed: 1, wrong_target: 1, unknown_verb: 2, revoked_key: 1 },
      })
      expect(s.last).toMatchObject({ verb: 'quarantine_artifact', status: 'executed' })
    } finally {
      await sc.close()
    }

    // After a restart the journal still knows what ran: a replay is refused, nothing runs twice.
    let replay: CommandFact
    const again = await start()
    try {
      await again.online
      replay = command()
      await send(replay)
      expect((await ackFor(replay)).payload.status).toBe('executed')
    } finally {
      await again.close()
    }
    const ran = calls.length
    const third = await start()
    try {
      await third.online
      await send(asFact(replay.payload, replay.ts, '-after-restart'))
      const a = await ackFor(replay, 'refused')
      expect(a.payload.reason).toMatch(/^replayed: /)
      expect(calls.length).toBe(ran)
    } finally {
      await third.close()
    }
  })

  it('each refused attempt leaves its own signed ack in COMMANDS: two forgeries of one command id are two acks, not one', async () => {
    const sc = await start()
    await sc.online
    const jsm = await jetstreamManager(t.nc)
    const stored = async () => (await jsm.streams.info('COMMANDS', { subjects_filter: 'ben.ack.web-3' })).state.subjects?.['ben.ack.web-3'] ?? 0
    try {
      const genuine = command()
      const forge = (i: number): CommandFact => {
        const p = { ...genuine.payload, args: `{"mode":"forged-${i}"}`, signatures: genuine.payload.signatures.map((x) => ({ ...x, sig: Buffer.alloc(64, i) })) }
        return { ...genuine, id: `forged-${genuine.payload.commandId}-${i}`, payload: p }
      }
      const before = await stored()
      await send(forge(1))
      await waitFor('the first refusal stored', async () => ((await stored()) === before + 1 ? true : undefined), 120_000)
      await send(forge(2))
      await waitFor('the second refusal stored too', async () => ((await stored()) === before + 2 ? true : undefined), 120_000)
      const refusals = acks.filter((a) => a.payload.commandId === genuine.payload.commandId && a.payload.status === 'refused')
      expect(refusals.length).toBe(2)
      expect(new Set(refusals.map((a) => a.id)).size).toBe(2)
      expect(refusals.every((a) => a.payload.reason?.startsWith('bad_signature'))).toBe(true)
      expect(refusals.map((a) => a.lineage[0]).sort()).toEqual([forge(1).id, forge(2).id].sort())
      // the genuine command still runs once and is answered executed
      await send(genuine)
      expect((await ackFor(genuine, 'executed')).payload.status).toBe('executed')
    } finally {
      await sc.close()
    }
  })
})
