import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { FactCodec, parseEdgeFact, type RawFact } from '../schemas/index.js'
import { Bucket, FactPublisher, kvName, streamName } from '../streams/index.js'
import { createLogger, readEnv, silentLogger } from '../infra/index.js'
import { stageDurable } from '../processors/runner/index.js'
import { laneInputs, type StageUnit } from '../processors/wiring/index.js'
import { specOf } from '../processors/pipeline.js'
import { generate } from '../simulate/index.js'
import { allUnits, deal, leaseKey, parseLease, startOrchestrator, startWorker, unitKey, workerContext, type WorkerHandle } from '../fleet/index.js'
import { workerCommand } from '../cli/run.js'
import { consumerSettled, fetchCounted, startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'

const T0 = 1_763_700_000_000

/** A simulated fleet with a CPU runaway: metrics, events and diagnostics of 4 hosts. */
function rawFacts(fromMin: number, toMin: number): RawFact[] {
  const { facts } = generate({ hosts: 4, seed: 'fleet-test', startTs: T0, rate: 40, scenarios: [{ kind: 'cpu-runaway', atMs: 90_000, durationMs: 60_000 }] }, T0 + toMin * 60_000)
  return facts
    .filter((e) => e.ts >= T0 + fromMin * 60_000)
    .map((e) => {
      const r = parseEdgeFact(e)
      if (!r.ok) throw new Error(r.error.message)
      return r.value as RawFact
    })
}

async function publish(nats: TestNats, facts: readonly RawFact[]): Promise<void> {
  const p = new FactPublisher(nats.nc, nats.subjects, new FactCodec())
  let failed = 0
  for (const f of facts) await p.send(f, nats.subjects.forFact(f), (o) => void (o.status === 'failed' && failed++))
  await p.flush()
  await p.close()
  expect(failed).toBe(0)
}

/** Every durable of these units has nothing pending nor un-acked. */
async function settled(nats: TestNats, units: readonly StageUnit[]): Promise<boolean> {
  for (const u of units) {
    const spec = specOf(u.stage)
    for (const l of laneInputs(spec, nats.subjects)) {
      const ok = await consumerSettled(nats.nc, streamName({}, l.stream), stageDurable('stage-', u.stage, l.lane, u.partition)).catch(() => false)
      if (!ok) return false
    }
  }
  return true
}

/** What the stages derived: Nats-Msg-Id → (subject, bytes), in stream order, from DERIVED and COMMANDS. */
async function derived(nats: TestNats): Promise<Array<{ id: string; subject: string; data: string }>> {
  const out: Array<{ id: string; subject: string; data: string }> = []
  for (const stream of ['DERIVED', 'COMMANDS']) {
    const info = await (await jetstreamManager(nats.nc)).streams.info(stream)
    if (info.state.messages === 0) continue
    const c = await jetstream(nats.nc).consumers.get(stream)
    await fetchCounted(`the messages of ${stream}`, c, info.state.messages, (m) =>
      out.push({ id: m.headers?.get('Nats-Msg-Id') ?? '', subject: m.subject, data: Buffer.from(m.data).toString('base64') }),
    )
  }
  return out
}

/** Per source (last subject token) and kind (second token), the ids in stream order. */
function perSource(rows: ReadonlyArray<{ id: string; subject: string }>): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const r of rows) {
    const t = r.subject.split('.')
    const k = `${t[1]} ${t[t.length - 1]}`
    let l = m.get(k)
    if (!l) m.set(k, (l = []))
    l.push(r.id)
  }
  return m
}

/** The set of derived facts by kind (second subject token): id → bytes. */
function byKind(rows: ReadonlyArray<{ id: string; subject: string; data: string }>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  for (const r of rows) (out[r.subject.split('.')[1]] ??= {})[r.id] = r.data
  return out
}

describe('partitions and workers: the same output whatever P and N', () => {
  const home = tempDir('ben-fleet-home-')
  let one: TestNats
  let four: TestNats
  let killed: TestNats
  const facts = rawFacts(0, 4)

  beforeAll(async () => {
    ;[one, four, killed] = await Promise.all([startTestNats(), startTestNats(), startTestNats()])
  })
  afterAll(async () => {
    await one?.stop()
    await four?.stop()
    await killed?.stop()
    home.remove()
  })

  const env = (nats: TestNats) => readEnv({ BEN_NATS_URL: nats.server.url, BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' })

  async function runWorkers(nats: TestNats, partitions: number, workers: number): Promise<Array<{ id: string; subject: string; data: string }>> {
    await publish(nats, facts)
    const units = allUnits(partitions)
    const ctx = await workerContext(env(nats), silentLogger(), 'test-worker')
    const running: WorkerHandle[] = []
    for (const [i, us] of deal(units, workers).entries()) running.push(await startWorker(ctx, { id: `w${i + 1}`, units: us }))
    await Promise.all(running.map((w) => w.ready))
    await waitFor('every unit to settle', () => settled(nats, units), 600_000, 500)
    let lastCount = -1
    const out = await waitFor(
      'the derived facts to stop growing',
      async () => {
        // settled, and the same count on two polls in a row (the poll interval is the only wait)
        const b = await derived(nats)
        const same = b.length === lastCount
        lastCount = b.length
        return same && (await settled(nats, units)) ? b : undefined
      },
      600_000,
      500,
    )
    for (const w of running) await w.stop()
    await ctx.close()
    return out
  }

  let whole: Array<{ id: string; subject: string; data: string }>

  it('P=1 on one worker and P=4 on two workers derive the same facts, byte for byte, in the same order per source', async () => {
    whole = await runWorkers(one, 1, 1)
    const split = await runWorkers(four, 4, 2)
    const a = byKind(whole)
    const b = byKind(split)
    expect(Object.keys(a.scrubbed ?? {}).length).toBe(facts.length)
    expect(Object.keys(a.anomaly ?? {}).length).toBeGreaterThan(0)
    expect(Object.keys(a.decision ?? {}).length).toBeGreaterThan(0)
    // scrub and detect are split by source: identical sets, identical per-source order
    for (const kind of ['scrubbed', 'anomaly', 'decision', 'cmd']) expect(b[kind] ?? {}, kind).toEqual(a[kind] ?? {})
    const pa = perSource(whole.filter((r) => /^ben\.(scrubbed|anomaly)\./.test(r.subject)))
    const pb = perSource(split.filter((r) => /^ben\.(scrubbed|anomaly)\./.test(r.subject)))
    expect(pb).toEqual(pa)
    // incidents: one partition, fed anomalies of several detect partitions in arrival order
    expect(Object.keys(b.incident ?? {}).sort()).toEqual(Object.keys(a.incident ?? {}).sort())
  }, 1_200_000)

  it('a worker killed with SIGKILL has its units running again within seconds (orchestrator), and the output equals the uninterrupted run', async () => {
    expect(whole, 'the uninterrupted run above').toBeDefined()
    const first = facts.filter((f) => f.ts < T0 + 120_000)
    const second = facts.filter((f) => f.ts >= T0 + 120_000)
    const units = allUnits(4)
    const slots = deal(units, 2).map((us, i) => ({ id: `k${i + 1}`, units: us }))
    const ctx = await workerContext(env(killed), process.env.BEN_TEST_LOG ? createLogger({ level: 'info', file: process.env.BEN_TEST_LOG }) : silentLogger(), 'test-orchestrator')
    const orch = await startOrchestrator(ctx, { slots, command: workerCommand(killed.server.url, home.path, 'ben') })
    const kv = await new Kvm(killed.nc).open(kvName({}, Bucket.Fleet))
    const holder = async (u: StageUnit) => {
      const e = await kv.get(leaseKey(unitKey(u)))
      const l = e && e.operation === 'PUT' ? parseLease(e.string()) : undefined
      return l && l.until > Date.now() ? l.worker : undefined
    }
    try {
      const say = (m: string) => process.stdout.write(`fleet kill test: ${m}\n`)
      await publish(killed, first)
      say(`published ${first.length}`)
      await waitFor('both workers to hold their leases', async () => (await Promise.all(units.map(holder))).every((w) => w !== undefined), 180_000, 250)
      await waitFor('the first half to be processed', () => settled(killed, units), 600_000, 500)
      say('first half processed')
      const victim = orch.children().find((c) => c.id === 'k1')!
      expect(victim.pid).toBeGreaterThan(0)
      const killedAt = Date.now()
      process.kill(victim.pid!, 'SIGKILL')
      await publish(killed, second)
      // processed again: a new k1 process holds every k1 lease and k1's durables took input after the kill
      await waitFor('k1 to be started again', () => orch.children().find((c) => c.id === 'k1' && c.pid && c.pid !== victim.pid), 60_000, 50)
      const respawnedAt = Date.now()
      say(`k1 started again after ${respawnedAt - killedAt} ms`)
      const takenSince = async (u: StageUnit, t: number) => {
        const e = await kv.get(leaseKey(unitKey(u)))
        const l = e && e.operation === 'PUT' ? parseLease(e.string()) : undefined
        return l?.worker === 'k1' && e!.created.getTime() >= t - 50
      }
      // processed again: the new k1 holds every k1 lease, and k1's durables have caught up with what was published after the kill
      await waitFor("k1's leases to be taken over", async () => (await Promise.all(slots[0].units.map((u) => takenSince(u, respawnedAt)))).every(Boolean), 120_000, 50)
      const leasesMs = Date.now() - killedAt
      say(`k1 leases taken over after ${leasesMs} ms`)
      await waitFor("k1's units to catch up", () => settled(killed, slots[0].units), 600_000, 100)
      const recoveredMs = Date.now() - killedAt
      process.stdout.write(
        `fleet: SIGKILLed worker k1 (pid ${victim.pid}): its leases taken over by its successor after ${leasesMs} ms; its units caught up with the ${second.length} facts published after the kill after ${recoveredMs} ms\n`,
      )
      expect(recoveredMs).toBeGreaterThan(0) // measured and reported; the 10 s aim is checked on a quiet machine, never here
      await waitFor('everything to be processed', () => settled(killed, units), 600_000, 500)
      let lastCount = -1
      const out = await waitFor(
        'the derived facts to stop growing',
        async () => {
          // settled, and the same count on two polls in a row (the poll interval is the only wait)
          const b = await derived(killed)
          const same = b.length === lastCount
          lastCount = b.length
          return same && (await settled(killed, units)) ? b : undefined
        },
        600_000,
        500,
      )
      const a = byKind(whole)
      const b = byKind(out)
      for (const kind of ['scrubbed', 'anomaly', 'decision', 'cmd']) expect(b[kind] ?? {}, kind).toEqual(a[kind] ?? {})
      expect(perSource(out.filter((r) => /^ben\.(scrubbed|anomaly)\./.test(r.subject)))).toEqual(perSource(whole.filter((r) => /^ben\.(scrubbed|anomaly)\./.test(r.subject))))
      const reg = orch.registry().find((e) => e.component === 'worker' && e.id === 'k1')
      expect(reg?.restarts).toBeGreaterThanOrEqual(1)
    } finally {
      await orch.stop()
      await ctx.close()
    }
  }, 1_200_000)
})
