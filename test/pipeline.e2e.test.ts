import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect, type Ben } from '../client/index.js'
import { FactCodec, derivedId, type AckFact, type CommandFact } from '../schemas/index.js'
import { generateKeyPair, loadKeyPair, signCommand, type KeyPair, registerKey, revokeRegisteredKey } from '../keys/index.js'
import { runSimulation, type Simulation } from '../simulate/index.js'
import { ben as ben_, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const MIN = 60_000

describe('end to end: simulated fleet → scrub → detect → policy → act → targets, projected into ClickHouse', () => {
  const home = tempDir('ben-e2e-')
  let up: Background
  let ben: Ben
  let sim: Simulation
  const codec = new FactCodec()

  const rows = async (sql: string) => (await ben.query(sql, { maxRows: 100_000 })).objects()
  const one = async (sql: string) => Number(Object.values((await rows(sql))[0] ?? { n: 0 })[0])

  beforeAll(async () => {
    up = await benUp({ BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' })
    ben = await connect({ home: home.path })
    sim = await runSimulation(
      { nc: ben.nc, subjects: ben.subjects, codec, topo: {} },
      {
        hosts: 3,
        rate: 150,
        durationMs: 6 * MIN,
        seed: 'e2e',
        mode: 'backfill',
        scenarios: [
          { kind: 'secret-leak', host: 'web-2', atMs: 60_000 },
          // A second identical runaway 90 s later: inside the pack's 10 min rate limit.
          { kind: 'cpu-runaway', host: 'web-3', atMs: 150_000, durationMs: 40_000, repeat: { afterMs: 90_000 } },
        ],
      },
    )
    await sim.published
  }, 180_000)

  afterAll(async () => {
    await sim?.stop()
    await ben?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  it('detects the CPU runaway, throttles the job once within its rate limit, and the target acks it', async () => {
    const runaway = sim.fleet.scenarios().find((s) => s.kind === 'cpu-runaway' && s.episode === 1)!
    expect(runaway).toBeDefined()
    const job = runaway.job!
    const acks = await waitFor(
      'an executed ack for the throttle',
      async () => {
        const r = await rows(`SELECT status, verb, target, reason FROM acks WHERE target = '${runaway.source}' AND verb = 'throttle_job'`)
        return r.length ? r : undefined
      },
      120_000,
      500,
    )
    expect(acks).toEqual([expect.objectContaining({ status: 'executed', verb: 'throttle_job', target: runaway.source })])

    // Each table has its own projector: the ack's row can be in before the anomaly's, decision's and command's.
    const anomalies = await waitFor("the runaway's anomaly rows", async () => {
      const r = await rows(
        `SELECT severity, value, explain FROM anomalies WHERE source = '${runaway.source}' AND metric = 'cpu.load' AND labels['job'] = '${job}' AND severity IN ('high', 'critical') ORDER BY ts`,
      )
      return r.length ? r : undefined
    })
    expect(anomalies.length).toBeGreaterThan(0)
    expect(String(anomalies[0].explain)).toMatch(/cpu\.load on web-3/)

    const acted = await waitFor("the act decision's row", async () => {
      const r = await rows(`SELECT rule, verb, target, args, explain, pack_revision FROM decisions WHERE source = '${runaway.source}' AND outcome = 'act' AND suppressed = 0`)
      return r.length ? r : undefined
    })
    expect(acted).toHaveLength(1)
    expect(acted[0]).toMatchObject({ verb: 'throttle_job', target: runaway.source, rule: 'critical-cpu-throttle' })
    expect(JSON.parse(String(acted[0].args))).toMatchObject({ job })

    const commands = await waitFor("the command's row", async () => {
      const r = await rows(`SELECT status, verb, signers FROM commands WHERE target = '${runaway.source}' AND verb = 'throttle_job'`)
      return r.length ? r : undefined
    })
    expect(commands).toEqual([expect.objectContaining({ status: 'issued', verb: 'throttle_job' })])
    expect((commands[0].signers as string[])[0]).toMatch(/^issuer:[0-9a-f]{16}$/)
  })

  it('suppresses the second identical runaway and counts it, without acting again', async () => {
    const second = sim.fleet.scenarios().find((s) => s.kind === 'cpu-runaway' && s.episode === 2)!
    expect(second).toBeDefined()
    const suppressed = await waitFor('suppressed repeats during the second runaway', async () => {
      const n = await one(
        `SELECT max(suppressed) AS n FROM decisions WHERE source = '${second.source}' AND rule = 'critical-cpu-throttle' AND ts >= fromUnixTimestamp64Milli(${second.startTs})`,
      )
      return n > 0 ? n : undefined
    })
    expect(suppressed).toBeGreaterThan(0)
    expect(await one(`SELECT count() AS n FROM commands WHERE target = '${second.source}' AND verb = 'throttle_job'`)).toBe(1)
  })

  it('scrubs the leaked secrets: they appear nowhere downstream — DERIVED, COMMANDS, every ClickHouse table', async () => {
    const secrets = sim.fleet.secrets
    expect(secrets.length).toBeGreaterThanOrEqual(4)
    const leak = sim.fleet.scenarios().find((s) => s.kind === 'secret-leak')!
    // The leak was scrubbed and the alert led to a quarantine proposal.
    await waitFor('the quarantine proposal', async () =>
      (await one(`SELECT count() AS n FROM commands WHERE verb = 'quarantine_artifact' AND status = 'proposed'`)) > 0 ? true : undefined,
    )
    const redacted = await rows(`SELECT redactions FROM facts WHERE source = '${leak.source}' AND kind = 'event' AND redactions != '[]'`)
    expect(redacted.length).toBeGreaterThan(0)

    for (const table of ['facts', 'anomalies', 'decisions', 'commands', 'acks']) {
      for (const s of secrets) {
        const needle = s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
        const n = await one(`SELECT count() AS n FROM ${table} WHERE position(base64Decode(avro), '${needle}') > 0 OR position(explain, '${needle}') > 0`)
        expect(n, `${table} holds a secret`).toBe(0)
      }
    }
    if ((await one(`SELECT count() AS n FROM facts`)) === 0) throw new Error('facts table is empty: the check above proved nothing')

    const js = jetstream(ben.nc)
    for (const stream of ['DERIVED', 'COMMANDS']) {
      const c = await js.consumers.get(stream)
      const info = await c.info(true)
      let seen = 0
      const holding: string[] = []
      const total = info.num_pending
      // Fetch until all of it has arrived (an observable count, not a time window), bounded.
      const deadline = Date.now() + 300_000
      while (seen < total && Date.now() < deadline) {
        const it = await c.fetch({ max_messages: Math.min(total - seen, 10_000), expires: 5_000 })
        for await (const m of it) {
          seen++
          const body = Buffer.from(m.data)
          for (const s of secrets) if (body.includes(s)) holding.push(`${stream} seq ${m.seq}`)
          if (seen >= total) break
        }
      }
      expect(seen).toBe(total)
      expect(holding, 'messages that hold a secret').toEqual([])
    }
  })

  it('an operator approves the quarantine proposal with `ben approve`; the target executes it', async () => {
    const env = { BEN_HOME: home.path }
    // No key to make first: `ben up` made and registered the operator key at its first start.
    const keys = await ben_(['keys', 'list', '-o', 'json'], env)
    expect(keys.code, keys.stderr).toBe(0)
    expect(keys.stdout).toMatch(/"operator"/)
    const [proposal] = await rows(`SELECT command_id, target FROM commands WHERE verb = 'quarantine_artifact' AND status = 'proposed' LIMIT 1`)
    expect(proposal).toBeDefined()
    const id = String(proposal.command_id)
    const r = await ben_(['approve', id.slice(0, 12)], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^approved quarantine_artifact on web-2/)
    const acks = await waitFor('the quarantine ack', async () => {
      const a = await rows(`SELECT status, reason FROM acks WHERE command_id = '${id}'`)
      return a.length ? a : undefined
    })
    expect(acks).toEqual([expect.objectContaining({ status: 'executed' })])
    const again = await ben_(['approve', id], env)
    expect(again.code).not.toBe(0)
    expect(again.stderr).toMatch(/already approved/)
  })

  describe('the command path refuses what is not genuinely ours, with the reason, acked as refused', () => {
    let issuer: KeyPair
    const target = 'web-1'
    let n = 0

    const command = (o: { key?: KeyPair; verb?: string; args?: string; issuedAt?: number; ttlMs?: number; target?: string } = {}): CommandFact => {
      const decisionId = derivedId('test', '1', 0, [`refusal-${++n}`])
      const key = o.key ?? issuer
      const payload = signCommand({ verb: o.verb ?? 'set_mode', target: o.target ?? target, args: o.args ?? '{"mode":"degraded"}' }, key, {
        decisionId,
        issuedAt: o.issuedAt ?? Date.now(),
        ttlMs: o.ttlMs ?? 5 * MIN,
      })
      return {
        id: derivedId('test', '1', 0, [decisionId], 'cmd'),
        ts: payload.issuedAt,
        source: 'test',
        lane: 'control',
        kind: 'command',
        payload,
        lineage: [decisionId],
        producer: 'test@1',
        config: {},
        explain: null,
      }
    }
    const send = async (cmd: CommandFact) => {
      const s = await ben.publish([cmd])
      expect(s.failed).toBe(0)
    }
    const ackFor = (cmd: CommandFact) =>
      waitFor(`the ack of ${cmd.payload.commandId}`, async () => {
        const r = await rows(`SELECT status, reason FROM acks WHERE command_id = '${cmd.payload.commandId}' ORDER BY ts`)
        return r.length ? r : undefined
      })

    beforeAll(() => {
      const r = loadKeyPair(readFileSync(join(home.path, 'keys', 'issuer.key.json'), 'utf8'))
      if (!r.ok) throw r.error
      issuer = r.value
    })

    it('a valid command is executed; the same command again is refused as replayed', async () => {
      const cmd = command()
      await send(cmd)
      expect(await ackFor(cmd)).toEqual([expect.objectContaining({ status: 'executed' })])
      // A replay under another fact id (same signed command) must not execute twice.
      await send({ ...cmd, id: derivedId('test', '1', 0, [cmd.id], 'replay') })
      const acks = await waitFor('the replay ack', async () => {
        const r = await ackFor(cmd)
        return r.length >= 2 ? r : undefined
      })
      expect(acks.map((a) => a.status).sort()).toEqual(['executed', 'refused'])
      expect(String(acks.find((a) => a.status === 'refused')?.reason)).toMatch(/^replayed/)
    })

    it.each([
      [
        'a forged signature',
        () => {
          const c = command()
          const sig = Buffer.from(c.payload.signatures[0].sig)
          sig[0] ^= 0xff
          return { ...c, payload: { ...c.payload, signatures: [{ ...c.payload.signatures[0], sig }] } }
        },
        /^bad_signature/,
      ],
      ['an expired command', () => command({ issuedAt: Date.now() - 20 * MIN, ttlMs: MIN }), /^expired/],
      ['an unknown verb', () => command({ verb: 'reboot', args: '{}' }), /^unknown_verb/],
      ['a key nobody registered', () => command({ key: generateKeyPair('issuer') }), /^unknown_key/],
    ] as const)('%s', async (_what, make, reason) => {
      const cmd = make() as CommandFact
      await send(cmd)
      const acks = await ackFor(cmd)
      expect(acks).toEqual([expect.objectContaining({ status: 'refused' })])
      expect(String(acks[0].reason)).toMatch(reason)
    })

    it('a command for another target delivered here', async () => {
      const cmd = command({ target: 'web-2' })
      // Deliver web-2's command on web-1's subject, as a misrouted or malicious relay would.
      const enc = codec.encode(cmd)
      const { headers } = await import('@nats-io/nats-core')
      const h = headers()
      h.set('Nats-Msg-Id', cmd.id)
      h.set('Ben-Schema', enc.schema)
      h.set('Ben-Schema-Fp', enc.fingerprint)
      await jetstream(ben.nc).publish(`ben.cmd.${target}`, enc.data, { headers: h })
      const acks = await ackFor(cmd)
      expect(acks).toEqual([expect.objectContaining({ status: 'refused' })])
      expect(String(acks[0].reason)).toMatch(/^wrong_target/)
    })

    it('a revoked key', async () => {
      const key = generateKeyPair('issuer')
      const kv = await new Kvm(ben.nc).open('ben-keys')
      await registerKey(kv, key)
      await revokeRegisteredKey(kv, key.keyId, Date.now() - 1000)
      // The target learns the registration and the revocation through its ben-keys watch: send
      // fresh commands until one is refused as revoked (observable), instead of sleeping.
      const acks = await waitFor(
        'a command signed with the revoked key refused as revoked',
        async () => {
          const cmd = command({ key })
          await send(cmd)
          const a = await ackFor(cmd)
          return String(a[0]?.reason).startsWith('revoked_key') ? a : undefined
        },
        60_000,
        100,
      )
      expect(acks).toEqual([expect.objectContaining({ status: 'refused' })])
      expect(String(acks[0].reason)).toMatch(/^revoked_key/)
    })

    it('acks are signed facts: each names the command and verifies', async () => {
      const r = await rows(`SELECT schema_fp, avro FROM acks LIMIT 5`)
      expect(r.length).toBeGreaterThan(0)
      for (const row of r) {
        const d = codec.decode(Buffer.from(String(row.avro), 'base64'), String(row.schema_fp))
        expect(d.ok).toBe(true)
        const ack = (d as { value: AckFact }).value
        expect(ack.payload.sig.length).toBe(64)
      }
    })
  })
})
