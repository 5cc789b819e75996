import { cpus, loadavg } from 'node:os'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { decodeWith, defaultRegistry, FactCodec, Header, parseEdgeFact, type Fact } from '../schemas/index.js'
import { FactPublisher } from '../streams/index.js'
import { embeddedEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { defaultServices } from '../cli/up.js'
import { createFleet, runSimulation, type Simulation } from '../simulate/index.js'
import { tempDir, waitFor } from './support/servers.js'

/**
 * Issue 8, item 1: no fact waits for a later fact or a timer. Every hop is measured from the
 * servers' own clocks: a derived fact's stream timestamp minus the newest stream timestamp of
 * the facts it was derived from (its lineage). A lost wake-up shows as a wait of ~30 s (the
 * ack-wait redelivery) or until the next fact; 1 s is a generous bound, not a benchmark. On a
 * machine loaded beyond its cores (load average / cores > 1) the bound grows with the load, up
 * to 10 s: still a third of the redelivery a lost wake-up waits for.
 */
const boundMs = (load: number) => 1000 * Math.min(10, Math.max(1, load / cpus().length))

/**
 * The highest 1-minute load average seen from now until `peak()` is read (sampled every second).
 * The bound is for the load the facts were measured under: read once when the file was loaded, it
 * was 1 s whenever the machine was quiet then and busy by the time the case ran.
 */
function loadWatch(): { peak(): number; stop(): void } {
  let peak = loadavg()[0]
  const sample = () => void (peak = Math.max(peak, loadavg()[0]))
  const timer = setInterval(sample, 1000)
  return {
    peak: () => (sample(), peak),
    stop: () => clearInterval(timer),
  }
}

interface Stored {
  readonly fact: Fact
  readonly stream: string
  readonly subject: string
  /** Stream time, ms. */
  readonly at: number
}

/** Every message stored in `stream` since `since` (ms), decoded. */
async function readSince(nc: NatsConnection, stream: string, since: number): Promise<Stored[]> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  if (info.state.messages === 0) return []
  const c = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(since).toISOString() })
  const total = (await c.info(true)).num_pending
  const out: Stored[] = []
  if (total === 0) return out
  // Fetch until everything counted above has arrived (an observable condition, not a window).
  while (out.length < total) {
    const it = await c.fetch({ max_messages: Math.min(total - out.length, 1000), expires: 5000 })
    for await (const m of it) {
      const fp = m.headers?.get(Header.SchemaFp)
      const r = fp ? decodeWith(defaultRegistry(), m.data, fp) : undefined
      if (r?.ok && typeof (r.value as Fact).kind === 'string') out.push({ fact: r.value as Fact, stream, subject: m.subject, at: Math.floor(Number(m.info.timestampNanos) / 1e6) })
      else out.push({ fact: { id: '', kind: 'raw', lineage: [] } as unknown as Fact, stream, subject: m.subject, at: Math.floor(Number(m.info.timestampNanos) / 1e6) })
    }
  }
  return out
}

/** The name of the hop a stored fact came out of. */
function hopOf(s: Stored): string {
  const t = s.subject.split('.')
  if (t[1] === 'scrubbed') return 'scrubbed'
  return t[1]
}

/** Stage consumers that have nothing left to deliver nor to acknowledge. */
async function quiet(nc: NatsConnection): Promise<boolean> {
  const jsm = await jetstreamManager(nc)
  for (const stream of ['FACTS', 'DERIVED', 'COMMANDS']) {
    for await (const c of jsm.consumers.list(stream)) {
      if (!c.name.startsWith('stage-') && c.name !== 'sim-targets') continue
      if (c.num_pending > 0 || c.num_ack_pending > 0) return false
    }
  }
  return true
}

/** Per hop: the longest time a fact stored since `since` took to come out of it. */
async function hopLatencies(nc: NatsConnection, since: number): Promise<{ worst: Map<string, { ms: number; id: string }>; count: Map<string, number> }> {
  const all = [...(await readSince(nc, 'FACTS', since - 60_000)), ...(await readSince(nc, 'DERIVED', since - 60_000)), ...(await readSince(nc, 'COMMANDS', since - 60_000))]
  const at = new Map<string, number>()
  for (const s of all) if (s.fact.id) at.set(s.fact.id, s.at)
  const worst = new Map<string, { ms: number; id: string }>()
  const count = new Map<string, number>()
  for (const s of all) {
    if (s.at < since || s.stream === 'FACTS' || !s.fact.lineage?.length) continue
    let input = -1
    for (const id of s.fact.lineage) input = Math.max(input, at.get(id) ?? -1)
    if (input < 0) continue
    const hop = hopOf(s)
    const ms = s.at - input
    count.set(hop, (count.get(hop) ?? 0) + 1)
    if (ms > (worst.get(hop)?.ms ?? -1)) worst.set(hop, { ms, id: s.fact.id })
  }
  return { worst, count }
}

describe('real time: sparse or bursty, no fact waits in a stage', () => {
  const home = tempDir('ben-rt-')
  let running: Running
  let sim: Simulation
  let load: ReturnType<typeof loadWatch> | undefined
  const codec = new FactCodec()
  const start = () => startBen(embeddedEnv(home.path), silentLogger(), defaultServices())

  beforeAll(async () => {
    running = await start()
  }, 120_000)

  afterEach(() => load?.stop())

  afterAll(async () => {
    await sim?.stop()
    await running?.stop()
    home.remove()
  })

  it('a single fact, bursts then silence, and the last fact before a pause each come out of every hop within 1 s', async () => {
    const nc = running.ctx.nc
    load = loadWatch()
    // The simulated targets (they verify commands and ack them); they publish no telemetry here.
    sim = await runSimulation({ nc, subjects: running.ctx.subjects, codec, topo: {} }, { hosts: 4, rate: 1, durationMs: 1, mode: 'backfill', scenarios: [], seed: 'e2e' })
    // Telemetry of the same two hosts: a warm-up, then a CPU runaway (anomaly → act → command → ack).
    // A fleet like the end-to-end test's: a warm-up, then a CPU runaway on web-3 (anomaly → act
    // → command → ack). The warm-up is published at once; the runaway host's facts are then
    // published in small bursts with pauses, the other hosts stay silent.
    const durationMs = 190_000
    const startTs = Date.now() - durationMs - 10_000
    const fleet = createFleet({ hosts: 4, seed: 'e2e', startTs, rate: 200, durationMs, scenarios: [{ kind: 'cpu-runaway', host: 'web-3', atMs: 150_000, durationMs: 40_000 }] })
    const facts = fleet.next(startTs + durationMs).map((e) => {
      const r = parseEdgeFact(e)
      if (!r.ok) throw new Error(r.error.message)
      return r.value
    })
    const runaway = fleet.scenarios()[0]
    const warm = facts.filter((f) => f.ts < runaway.startTs)
    const measured = facts.filter((f) => f.ts >= runaway.startTs && f.source === runaway.source)
    expect(warm.length).toBeGreaterThan(1000)
    expect(measured.length).toBeGreaterThan(200)

    const publisher = new FactPublisher(nc, running.ctx.subjects, codec)
    expect((await publisher.publishAll(warm)).failed).toBe(0)
    await waitFor('the warm-up to be processed and acknowledged by every stage', () => quiet(nc), 180_000, 200)
    const since = Date.now()

    // A single fact, alone.
    const [first, ...rest] = measured
    expect((await publisher.publishAll([first])).stored).toBe(1)
    await waitFor('the single fact to be processed', () => quiet(nc), 60_000, 50)
    // Bursts of 50 facts, each followed by silence: the next burst is published only once every
    // stage has processed and acknowledged this one, so the last fact of every burst is measured
    // with nothing behind it to push it out (a lost wake-up would leave it waiting ~30 s).
    // Each burst costs about a second (every stage acknowledges at its next checkpoint): the bursts
    // stop once the runaway's command has been acknowledged (every hop has facts to measure) and
    // at least MIN_BURSTS were measured, not after all of the runaway's facts.
    const MIN_BURSTS = 10
    let bursts = 0
    for (let i = 0; i < rest.length; i += 50) {
      expect((await publisher.publishAll(rest.slice(i, i + 50))).failed).toBe(0)
      await waitFor(`burst ${i / 50 + 1} to be processed and acknowledged by every stage`, () => quiet(nc), 60_000, 20)
      if (++bursts >= MIN_BURSTS && (await readSince(nc, 'COMMANDS', since)).some((s) => s.subject.includes('.ack.'))) break
    }
    console.log(`real-time: ${bursts} bursts of 50 after the single fact (of ${Math.ceil(rest.length / 50)} the runaway has)`)
    // Silence: the last fact before it must not wait for a next one.
    await waitFor(
      'the throttle command of the runaway',
      async () => (await readSince(nc, 'COMMANDS', since)).some((s) => s.subject.includes('.ack.')) || undefined,
      60_000,
      250,
    ).catch(() => undefined)
    await waitFor('every stage to have processed and acknowledged everything', () => quiet(nc), 120_000, 100)
    await publisher.close()

    const { worst, count } = await hopLatencies(nc, since)
    const BOUND_MS = boundMs(load.peak())
    console.log(`real-time hops (bound ${Math.round(BOUND_MS)} ms): ${JSON.stringify(Object.fromEntries([...worst].map(([h, w]) => [h, w.ms])))}`)
    const report = Object.fromEntries([...worst].map(([hop, w]) => [hop, { worstMs: w.ms, facts: count.get(hop) }]))
    for (const hop of ['scrubbed', 'anomaly', 'decision', 'cmd', 'incident'])
      expect(
        count.get(hop) ?? 0,
        `no fact came out of ${hop}: ${JSON.stringify(report)} targets ${JSON.stringify(sim.stats)} ${[...sim.targets.keys()].join(',')} commands ${JSON.stringify((await readSince(nc, 'COMMANDS', since)).map((c) => [c.subject, (c.fact as { payload?: { status?: string } }).payload?.status]))}`,
      ).toBeGreaterThan(0)
    for (const [hop, w] of worst) expect(w.ms, `${hop}: fact ${w.id} waited ${w.ms} ms (${JSON.stringify(report)})`).toBeLessThanOrEqual(BOUND_MS)
  }, 600_000)

  it('the first fact after a restart comes out of scrub, policy and into ClickHouse within 1 s', async () => {
    await sim?.stop()
    await running.stop()
    load = loadWatch()
    running = await start()
    const nc = running.ctx.nc
    const publisher = new FactPublisher(nc, running.ctx.subjects, codec)
    const ts = Date.now()
    const alert = parseEdgeFact({
      lane: 'alert',
      source: 'rt-restart',
      ts,
      rule: 'edr.exec',
      severity: 'high',
      message: 'unexpected binary after restart',
      attrs: { path: '/tmp/x' },
    })
    if (!alert.ok) throw new Error(alert.error.message)
    const sent = Date.now()
    expect((await publisher.publishAll([alert.value])).stored).toBe(1)
    // ClickHouse: the row is visible (polled often: the time it took is the measure).
    const seen = await waitFor(
      'the alert in the facts table',
      async () => {
        const rs = await running.ctx.warehouse.client.query({ query: `SELECT count() AS n FROM facts WHERE source = 'rt-restart'`, format: 'JSONEachRow' })
        return Number((await rs.json<{ n: string }>())[0].n) > 0 ? Date.now() : undefined
      },
      60_000,
      20,
    )
    await waitFor('every stage to have processed and acknowledged it', () => quiet(nc), 60_000, 50)
    await publisher.close()
    const { worst, count } = await hopLatencies(nc, sent - 1)
    const BOUND_MS = boundMs(load.peak())
    expect(count.get('scrubbed')).toBe(1)
    expect(count.get('decision')).toBe(1)
    for (const [hop, w] of worst) expect(w.ms, `${hop}: fact ${w.id} waited ${w.ms} ms after the restart`).toBeLessThanOrEqual(BOUND_MS)
    // Publish → row, through scrub and the projector's 250 ms batch.
    expect(seen - sent, 'publish → ClickHouse row after a restart').toBeLessThanOrEqual(2 * BOUND_MS)
  }, 300_000)
})
