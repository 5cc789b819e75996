/**
 * bench:latency — per hop latency (p50/p99/max) from publish to each hop of the chain:
 * scrubbed, anomaly, decision, command, ack, and a ClickHouse row, under three loads (sparse:
 * 20 sources × 1 fact/s; bursty: 1,000 facts every 5 s; steady: 10,000 facts/s), then an
 * overload (a routine flood at 2× what the chain sustained under the steady load) where the
 * alert lane's publish → decision shows the lanes' priority (hop by hop: stored in FACTS, out of
 * scrub, out of policy). A hop's latency is the stream
 * time of the derived fact minus its event time (the feed stamps facts with their publish time).
 * A load is sustained when no stage's or projector's backlog (stored, not yet acknowledged) grows
 * through the feed (least-squares slope under 2 % of the offered rate), the routine lane's
 * latency does not climb through it (the probes' publish → scrubbed median in the last quarter of
 * the feed at most 1 s above the first quarter's) and the feed could offer it; otherwise the phase says NOT sustained and reports the backlog growth, in total and per
 * consumer, instead of the routine lane's latencies (the alert lane's are still shown: that is the
 * lanes' promise). First, a same-run baseline: a raw four-hop JetStream relay (bench/latency-
 * baseline.ts), the floor of a hop on this machine at this moment. The feed (bench/latency-feed.ts)
 * and the command targets that ack (bench/latency-targets.ts) run in processes of their own, as the
 * fleet's hosts would: no hop waits for Ben's event loop on their side. BENCH_SECONDS (20),
 * BENCH_STEADY_RATE (10,000), BENCH_FLOOD_RATE (2× the steady load's),
 * BENCH_LOADS (sparse,bursty,steady,flood), BENCH_ALERT_RATE (alerts/s in every phase; default 2,
 * and 20 in the floods, whose alert → decision p99 is an aim of issue 8: at 20/s it is a
 * percentile, the 4th slowest of 400, where at 2/s it would be the slowest of 40; 20 facts/s beside
 * a flood of thousands barely change its load, where in the sparse phase they would double it),
 * BENCH_WORKERS (0; N: the flood again, at the same rate, against a second Ben started as
 * `ben up --workers N`, phase `flood_workers`: the alert lane through the workers' alert threads,
 * next to the one-process figure of the same run). Prints tables, then one JSON line.
 */
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { build, type Histogram } from 'hdr-histogram-js'
import { jetstreamManager } from '@nats-io/jetstream'
import { embeddedEnv, readEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { defaultServices } from '../cli/up.js'
import { printTable } from '../cli/output.js'
import { followSubjects } from '../streams/index.js'
import { alertTraceOn, stageDurable } from '../processors/runner/index.js'
import { laneInputs } from '../processors/wiring/index.js'
import { specOf } from '../processors/pipeline.js'
import { allUnits } from '../fleet/index.js'
import type { Fact } from '../schemas/index.js'
import { profiled } from './profile.js'
import { BASELINE_HOPS, relayBaseline, type BaselineFigures } from './latency-baseline.js'
import { mainThreadCpu, procCpu, procMinorFaults, selfCpu, workerPidsOf } from './proc-cpu.js'
import { childResult } from './child-result.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 10_000)
/** The flood's rate (facts/s); default 0: 2× what the chain sustained under the steady load. */
const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 0)
/** BENCH_PROFILE=file.cpuprofile with BENCH_PROFILE_LOAD=<load>: a CPU profile of Ben's process during that phase. */
const PROFILE_LOAD = process.env.BENCH_PROFILE_LOAD
/** Which phases to run (comma-separated; default all): sparse, bursty, steady, flood. */
const LOADS = (process.env.BENCH_LOADS ?? 'sparse,bursty,steady,flood').split(',')
/** BENCH_WORKERS=N: the flood also against `ben up --workers N` (a second Ben, after the first). */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0)
/** The embedded default, with the tuning this shell sets (BEN_PUBLISH_WINDOW, BEN_NATS_NICE, BEN_ALERT_PATH_NICE, BEN_DETECT_PATH_NICE): an A/B of one build. */
const benEnv = (home: string) => {
  const shell = readEnv()
  return { ...embeddedEnv(home), publishWindow: shell.publishWindow, natsNice: shell.natsNice, alertPathNice: shell.alertPathNice, detectPathNice: shell.detectPathNice }
}
const feedScript = join(fileURLToPath(new URL('.', import.meta.url)), 'latency-feed.js')
const HOPS = ['stored', 'scrubbed', 'anomaly', 'decision', 'command', 'ack', 'clickhouse', 'alert→stored', 'alert→scrubbed', 'alert→decision'] as const
type Hop = (typeof HOPS)[number]

interface Fed {
  readonly sent: number
  readonly routine: number
  readonly probes: number
  readonly failed: number
  readonly routineBehind: number
  /** The routine publisher's window over the phase: least and median (BEN_PUBLISH_DELAY_MS holds it below 8,192). */
  readonly routineWindow: readonly [number | null, number | null]
  readonly seconds: number
}

/** The feed: the routine load and the probes in two processes (latency-feed.ts), their counts added up. */
async function feed(url: string, load: string, seconds: number, rate: number, probeSources: readonly string[]): Promise<Fed> {
  const [routine, probes] = await Promise.all(['routine', 'probes'].map((part) => feedPart(part, url, load, seconds, rate, probeSources, alertRate(load))))
  return {
    sent: routine.sent + probes.sent,
    routine: routine.routine,
    probes: probes.probes,
    failed: routine.failed + probes.failed,
    routineBehind: routine.routineBehind,
    routineWindow: routine.routineWindow,
    seconds: Math.max(routine.seconds, probes.seconds),
  }
}

/** Alerts per second in a phase: BENCH_ALERT_RATE, else 20 in the floods (their p99 is an aim) and 2 elsewhere. */
function alertRate(load: string): number {
  const set = Number(process.env.BENCH_ALERT_RATE)
  if (process.env.BENCH_ALERT_RATE && set > 0) return set
  return load.startsWith('flood') ? 20 : 2
}

function feedPart(part: string, url: string, load: string, seconds: number, rate: number, probeSources: readonly string[], alerts: number): Promise<Fed> {
  const args = [
    feedScript,
    ...['--part', part, '--url', url, '--load', load, '--seconds', String(seconds), '--rate', String(rate)],
    ...['--probe-sources', probeSources.join(','), '--alert-rate', String(alerts)],
  ]
  // The probes' part in a session of its own: with Linux autogroup it is then a scheduling group
  // of its own, as a publisher on another host would be, rather than a nice-0 thread in Ben's
  // group behind the stage threads Ben raises (their nice orders the threads of one group only).
  // The routine part stays in Ben's group: its load is what Ben's stages are measured against.
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: part === 'probes',
  })
  // Outside the terminal's process group, so a ^C does not reach it: stopped with the bench.
  const stop = () => child.kill()
  process.once('exit', stop)
  return childResult<Fed>(child, `the feed's ${part} part`).finally(() => process.off('exit', stop))
}

const targetsScript = join(fileURLToPath(new URL('.', import.meta.url)), 'latency-targets.js')

/** The command targets (web-1 … web-N) in a process of their own (latency-targets.ts), once they are ready. */
function startTargets(url: string): Promise<{ stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [targetsScript, '--url', url, '--hosts', String(TARGET_HOSTS)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    let out = ''
    const onData = (b: Buffer) => {
      out += b.toString()
      if (!out.includes('ready\n')) return
      child.stdout.off('data', onData)
      resolve({
        stop: async () => {
          child.kill('SIGTERM')
          await exited
        },
      })
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`the command targets exited ${code} before they were ready`)))
  })
}

const hist = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 })

/** A stage's or projector's durable consumer, as far as the backlog goes. */
interface ConsumerAt {
  /** Stored and not yet settled by it: not delivered yet + delivered and not acknowledged. */
  readonly backlog: number
  /** Messages it has acknowledged so far (its ack floor, in delivered messages). */
  readonly done: number
}

/** Every stage and projector consumer (`stage-*`, `proj-*`) on FACTS, DERIVED and COMMANDS. */
async function consumers(r: Running): Promise<Map<string, ConsumerAt>> {
  const jsm = await jetstreamManager(r.ctx.nc)
  for (let attempt = 0; ; attempt++) {
    try {
      const out = new Map<string, ConsumerAt>()
      for (const stream of ['FACTS', 'DERIVED', 'COMMANDS']) {
        for await (const c of jsm.consumers.list(stream)) {
          if (!c.name.startsWith('stage-') && !c.name.startsWith('proj-')) continue
          out.set(c.name, { backlog: c.num_pending + c.num_ack_pending, done: c.ack_floor.consumer_seq })
        }
      }
      return out
    } catch (err) {
      // A busy server may time a listing out: try again, a few times.
      if (attempt >= 4) throw err
      await new Promise((res) => setTimeout(res, 500))
    }
  }
}

const total = (m: Map<string, ConsumerAt>) => [...m.values()].reduce((a, c) => a + c.backlog, 0)

/** Waits until no stage or projector has anything left to deliver or to acknowledge. */
async function drain(r: Running, maxMs = 300_000): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    if (total(await consumers(r)) === 0 || Date.now() - t0 > maxMs) return Date.now() - t0
    await new Promise((res) => setTimeout(res, 250))
  }
}

/** Least-squares slope of (t seconds, backlog) samples: how fast a backlog grows, per second. */
function slope(samples: ReadonlyArray<readonly [number, number]>): number {
  if (samples.length < 2) return 0
  const n = samples.length
  const mt = samples.reduce((a, s) => a + s[0], 0) / n
  const mb = samples.reduce((a, s) => a + s[1], 0) / n
  let num = 0
  let den = 0
  for (const [t, b] of samples) {
    num += (t - mt) * (b - mb)
    den += (t - mt) ** 2
  }
  return den === 0 ? 0 : num / den
}

type HopFigures = { n: number; p50: number; p99: number; max: number }

interface Phase {
  readonly load: string
  /** Routine facts/s offered (0: the load's own shape). */
  readonly rate: number
  readonly sent: number
  readonly seconds: number
  /** Routine facts/s the feed published (what the server took). */
  readonly publishedPerS: number
  /** Routine facts the feed could not publish at the offered pace. */
  readonly notOffered: number
  readonly routineWindow: Fed['routineWindow']
  readonly hops: Record<Hop, HopFigures>
  /** Backlog growth per consumer (facts/s, least squares over the feed), those that grew only. */
  readonly growth: Record<string, number>
  /** Total backlog growth (facts/s) and the backlog at the end of the feed. */
  readonly backlogPerS: number
  readonly backlogAtEnd: number
  /** Facts/s scrub's routine lane settled during the phase. */
  readonly scrubbedPerS: number
  readonly drainMs: number
  readonly sustained: boolean
  /**
   * CPU per fact offered (µs) through the feed and its drain: Ben's process (every stage and
   * projector, and this bench's followers) and the nats-server; wall-clock figures under load mean
   * little, CPU per fact does.
   */
  readonly cpu: {
    benUsPerFact: number
    natsUsPerFact: number
    /** Of Ben's, its main thread's (the stages' and projectors' event loop; the alert path has a thread of its own). */
    mainUsPerFact: number
  }
  /**
   * Minor page faults through the feed and its drain, per second of feed: Ben's process (with its workers) and the nats-server. A
   * burst of them in the server is a stream's write cache growing into fresh memory with the
   * stream's lock held; where a fault is dear (this project's VM: 10–20 µs), every store and
   * delivery on that stream waits (infra/nats-server.ts, natsServerEnv).
   */
  readonly faults: { benPerS: number; natsPerS: number }
  /** Ben's process's garbage collection through the feed: pauses in all (ms, and per second of feed) and the longest. */
  readonly gc: { ms: number; msPerS: number; maxMs: number }
  /** Ben's event-loop delay through the feed (ms): what any input waits before its callback runs. */
  readonly loopDelay: { p50: number; p99: number; max: number }
  /** Median publish → scrubbed of the probes (routine lane) in the first and the last quarter of the feed. */
  readonly climb?: { firstMs: number; lastMs: number }
  /** The routine lane's latency climbed through the feed by more than CLIMB_MS: not sustained. */
  readonly climbing: boolean
  /** The slowest anomalies, hop by hop (ms). */
  readonly worst: readonly AnomalyTrace[]
}

/**
 * Where one anomaly's time went (ms, stream times): publish → its probe stored in FACTS → scrubbed
 * stored in DERIVED → anomaly stored; `at`: its event time, s into the phase.
 */
interface AnomalyTrace {
  readonly total: number
  readonly stored: number
  readonly scrubbed: number
  readonly anomaly: number
  readonly at: number
}

/** The slowest anomalies each phase reports, hop by hop. */
const WORST_SHOWN = 3

/** A routine-lane latency that grows by more than this through a feed is work piling up. */
const CLIMB_MS = 1000

/** A stage keeps up when its backlog grows by less than this share of the offered load (and 50/s). */
const GROWTH_TOLERANCE = 0.02

/**
 * The probe hosts of each phase: its runaway series go to these hosts in turn. The default pack
 * throttles a host at most once per 10 minutes (rate limit per rule, verb and target) and 20
 * throttles fleet-wide per 10 minutes (blast radius): hosts of their own per phase give every
 * phase fresh targets, so each phase's runaways yield signed commands and acks to measure
 * (before, every phase's probes ran on web-1: only the first phase had a command).
 */
const PROBES_PER_PHASE = 3
const PHASES = ['sparse', 'bursty', 'steady', 'flood'] as const
const probeSourcesOf = (load: string): string[] => {
  const at = Math.max(0, PHASES.indexOf(load.replace(/_workers$/, '') as (typeof PHASES)[number]))
  return Array.from({ length: PROBES_PER_PHASE }, (_, k) => `web-${3 + at * PROBES_PER_PHASE + k}`)
}
/** Simulated targets: web-2 (the alerts' source) and every phase's probe hosts. */
const TARGET_HOSTS = 2 + PHASES.length * PROBES_PER_PHASE

async function phase(r: Running, load: string, rate: number): Promise<Phase> {
  const probeSources = probeSourcesOf(load)
  // The alert trace (bench/alert-trace.ts) is told which phase its alerts belong to.
  if (alertTraceOn) appendFileSync(process.env.BEN_ALERT_TRACE!, `${Date.now()} phase ${load} -\n`)
  const h = Object.fromEntries(HOPS.map((k) => [k, hist()])) as Record<Hop, Histogram>
  const rec = (hop: Hop, ms: number) => h[hop].recordValue(Math.max(1, Math.round(ms)))
  const t0 = Date.now()
  // Scrubbed: the probes (this phase's probe hosts) only; the routine load is counted, not followed.
  // …each with its publish time, to see whether the routine lane's latency climbs through the feed.
  const probeTrend: Array<[number, number]> = []
  // Per anomaly, where its time went (stream times): the probe's raw fact stored, scrubbed, anomaly.
  const storedAt = new Map<string, number>()
  const scrubbedAt = new Map<string, { time: number; raw: string }>()
  const traces: AnomalyTrace[] = []
  const scrubbedOf = (d: { result: { ok: boolean; value?: unknown }; time: number }) => {
    if (!d.result.ok) return
    const f = d.result.value as Fact
    const ts = f.ts
    rec('scrubbed', d.time - ts)
    probeTrend.push([ts, d.time - ts])
    scrubbedAt.set(f.id, { time: d.time, raw: f.lineage[0] })
  }
  const anomalyOf = (d: { result: { ok: boolean; value?: unknown }; time: number }) => {
    if (!d.result.ok) return
    const f = d.result.value as Fact
    rec('anomaly', d.time - f.ts)
    const sc = f.lineage.map((id) => scrubbedAt.get(id)).find((x) => x !== undefined)
    const st = sc ? storedAt.get(sc.raw) : undefined
    traces.push({
      total: d.time - f.ts,
      stored: st === undefined ? NaN : st - f.ts,
      scrubbed: sc && st !== undefined ? sc.time - st : NaN,
      anomaly: sc ? d.time - sc.time : NaN,
      at: f.ts - t0,
    })
  }
  const subs = [
    ...probeSources.map((src) => followSubjects(r.ctx.nc, r.ctx.registry, `ben.scrubbed.*.${src}`, { deliver: 'new' }).subscribe(scrubbedOf)),
    // The probes' first hop: stored in FACTS (the server's part, before any stage).
    ...probeSources.map((src) =>
      followSubjects(r.ctx.nc, r.ctx.registry, `ben.fact.metric.${src}`, { deliver: 'new' }).subscribe((d) => {
        if (!d.result.ok) return
        const f = d.result.value as Fact
        rec('stored', d.time - f.ts)
        storedAt.set(f.id, d.time)
      }),
    ),
    // The alert lane hop by hop (web-2): stored in FACTS, out of scrub, out of policy (below).
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.fact.alert.web-2', { deliver: 'new' }).subscribe((d) => d.result.ok && rec('alert→stored', d.time - (d.result.value as Fact).ts)),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.scrubbed.alert.web-2', { deliver: 'new' }).subscribe(
      (d) => d.result.ok && rec('alert→scrubbed', d.time - (d.result.value as Fact).ts),
    ),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.anomaly.>', { deliver: 'new' }).subscribe(anomalyOf),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.decision.>', { deliver: 'new' }).subscribe((d) => {
      if (!d.result.ok) return
      const f = d.result.value as Fact
      rec(d.subject.endsWith('.web-2') ? 'alert→decision' : 'decision', d.time - f.ts)
    }),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.cmd.>', { deliver: 'new' }).subscribe((d) => d.result.ok && rec('command', d.time - (d.result.value as Fact).ts)),
  ]
  // The ack's ts is the target's clock: measure it from the command's event time.
  const cmdTs = new Map<string, number>()
  subs.push(
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.cmd.>', { deliver: 'new' }).subscribe((d) => {
      if (d.result.ok) cmdTs.set((d.result.value as Fact).id, (d.result.value as Fact).ts)
    }),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.ack.>', { deliver: 'new' }).subscribe((d) => {
      if (!d.result.ok) return
      const ts = cmdTs.get((d.result.value as Fact).lineage[0])
      if (ts !== undefined) rec('ack', d.time - ts)
    }),
  )
  // ClickHouse: probe rows polled every 100 ms (the figure includes up to 100 ms of polling).
  let chFrom = t0
  let polling = true
  const poll = (async () => {
    while (polling) {
      const rs = await r.ctx.warehouse.client.query({
        query: `SELECT toUnixTimestamp64Milli(ts) AS t FROM facts WHERE source = 'web-2' AND ts > fromUnixTimestamp64Milli(${chFrom})`,
        format: 'JSONEachRow',
      })
      const now = Date.now()
      for (const row of await rs.json<{ t: string }>()) {
        const t = Number(row.t)
        rec('clickhouse', now - t)
        chFrom = Math.max(chFrom, t)
      }
      await new Promise((res) => setTimeout(res, 100))
    }
  })()
  // The backlog of every consumer, sampled through the feed.
  const before = await consumers(r)
  const samples = new Map<string, Array<[number, number]>>()
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      await new Promise((res) => setTimeout(res, 1000))
      const at = (Date.now() - t0) / 1000
      for (const [name, c] of await consumers(r).catch(() => new Map<string, ConsumerAt>())) {
        const s = samples.get(name) ?? []
        s.push([at, c.backlog])
        samples.set(name, s)
      }
    }
  })()
  // Ben's event loop (every stage and projector runs in this process): how long a ready callback waits.
  const eld = monitorEventLoopDelay({ resolution: 10 })
  eld.enable()
  const cpu0 = { ben: selfCpu() + workersCpu(), main: mainThreadCpu(), nats: natsCpu(r) }
  const faults0 = { ben: benFaults(), nats: natsFaults(r) }
  const gc = { ms: 0, maxMs: 0 }
  const gcObs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.ms += e.duration
      gc.maxMs = Math.max(gc.maxMs, e.duration)
    }
  })
  gcObs.observe({ entryTypes: ['gc'] })
  const fed = await feed(r.endpoints.natsUrl, load, SECONDS, rate, probeSources)
  gcObs.disconnect()
  eld.disable()
  const loopDelay = { p50: Math.round(eld.percentile(50) / 1e6), p99: Math.round(eld.percentile(99) / 1e6), max: Math.round(eld.max / 1e6) }
  sampling = false
  await sampler
  const after = await consumers(r)
  const feedSeconds = (Date.now() - t0) / 1000
  // scrub's routine lane: one durable, or one per partition under --workers (stage-scrub-routine-p0of2…)
  const scrubDone = (m: Map<string, ConsumerAt>) => [...m].reduce((a, [name, c]) => a + (/^stage-scrub-routine(-p\d+of\d+)?$/.test(name) ? c.done : 0), 0)
  const scrubbedPerS = Math.round((scrubDone(after) - scrubDone(before)) / feedSeconds)
  const drainMs = await drain(r)
  const cpu = {
    benUsPerFact: Math.round(((selfCpu() + workersCpu() - cpu0.ben) * 1e6) / Math.max(1, fed.sent)),
    natsUsPerFact: Math.round(((natsCpu(r) - cpu0.nats) * 1e6) / Math.max(1, fed.sent)),
    mainUsPerFact: Math.round(((mainThreadCpu() - cpu0.main) * 1e6) / Math.max(1, fed.sent)),
  }
  const faults = { benPerS: Math.round((benFaults() - faults0.ben) / feedSeconds), natsPerS: Math.round((natsFaults(r) - faults0.nats) / feedSeconds) }
  // What was published during the feed has come out of every hop (or the drain gave up).
  await new Promise((res) => setTimeout(res, 1500))
  polling = false
  await poll
  for (const s of subs) s.unsubscribe()
  const publishedPerS = Math.round(fed.routine / fed.seconds)
  const offered = rate > 0 ? rate : publishedPerS
  const growth: Record<string, number> = {}
  for (const [name, s] of samples) {
    const g = Math.round(slope(s))
    if (g > Math.max(50, GROWTH_TOLERANCE * offered)) growth[name] = g
  }
  const backlogPerS = Object.values(growth).reduce((a, g) => a + g, 0)
  // Not sustained: a consumer's backlog grew, or the feed could not even offer the load.
  // Climbing: the routine lane's publish → scrubbed (probes) in the last quarter of the feed is more
  // than CLIMB_MS above the first quarter's (medians): work piles up, whatever the backlog's slope.
  const quarter = (k: number) => {
    const from = t0 + (k * fed.seconds * 1000) / 4
    const xs = probeTrend
      .filter(([ts]) => ts >= from && ts < from + (fed.seconds * 1000) / 4)
      .map(([, ms]) => ms)
      .sort((a, b) => a - b)
    return xs.length ? xs[Math.floor(xs.length / 2)] : undefined
  }
  const first = quarter(0)
  const last = quarter(3)
  const climb = first === undefined || last === undefined ? undefined : { firstMs: first, lastMs: last }
  const climbing = climb !== undefined && climb.lastMs - climb.firstMs > CLIMB_MS
  const sustained = backlogPerS === 0 && !climbing && fed.routineBehind <= GROWTH_TOLERANCE * offered * fed.seconds
  return {
    load,
    rate,
    sent: fed.sent,
    seconds: fed.seconds,
    publishedPerS,
    notOffered: fed.routineBehind,
    routineWindow: fed.routineWindow,
    hops: Object.fromEntries(
      HOPS.map((k) => [k, { n: h[k].totalCount, p50: h[k].getValueAtPercentile(50), p99: h[k].getValueAtPercentile(99), max: h[k].maxValue }]),
    ) as Phase['hops'],
    growth,
    backlogPerS,
    backlogAtEnd: total(after),
    scrubbedPerS,
    drainMs,
    sustained,
    loopDelay,
    cpu,
    faults,
    gc: { ms: Math.round(gc.ms), msPerS: Math.round(gc.ms / fed.seconds), maxMs: Math.round(gc.maxMs) },
    climb,
    climbing,
    worst: traces.sort((a, b) => b.total - a.total).slice(0, WORST_SHOWN),
  }
}

/** CPU seconds of `ben up --workers N`'s worker processes (children of this process running `ben run --worker-id`); 0 without. */
function workersCpu(): number {
  return workerPidsOf(process.pid).reduce((a, pid) => a + procCpu(pid), 0)
}

/** Until `ben up --workers N` decides: every stage durable exists and an alert is decided (the workers run their units). */
async function workersReady(r: Running, maxMs = 300_000): Promise<number> {
  const t0 = Date.now()
  const expected = allUnits(WORKERS).flatMap((u) => laneInputs(specOf(u.stage), r.ctx.subjects).map((l) => stageDurable('stage-', u.stage, l.lane, u.partition)))
  let sent = false
  for (;;) {
    if (Date.now() - t0 > maxMs) throw new Error(`ben up --workers ${WORKERS} did not run its units within ${maxMs / 1000} s`)
    const have = await consumers(r).catch(() => new Map<string, ConsumerAt>())
    if (expected.every((d) => have.has(d))) {
      if (!sent) {
        await r.ctx.nc.flush()
        r.ctx.nc.publish(
          'ben.fact.alert.ready-1',
          JSON.stringify({ lane: 'alert', source: 'ready-1', ts: Date.now(), rule: 'bench.ready', severity: 'low', message: 'ready', attrs: {} }),
        )
        sent = true
      }
      const info = await (await jetstreamManager(r.ctx.nc)).streams.info('DERIVED', { subjects_filter: 'ben.decision.*.ready-1' }).catch(() => undefined)
      if ((info?.state.num_subjects ?? 0) > 0) return Date.now() - t0
    }
    await new Promise((res) => setTimeout(res, 250))
  }
}

/** CPU seconds of the embedded nats-server; NaN if unknown. */
function natsCpu(r: Running): number {
  const pid = r.endpoints.natsPid
  return pid ? procCpu(pid) : NaN
}

/** Minor page faults of this process (Ben runs in it) and of `ben up --workers N`'s workers. */
function benFaults(): number {
  return [process.pid, ...workerPidsOf(process.pid)].reduce((a, pid) => a + procMinorFaults(pid), 0)
}

/** Minor page faults of the embedded nats-server; NaN if unknown. */
function natsFaults(r: Running): number {
  const pid = r.endpoints.natsPid
  return pid ? procMinorFaults(pid) : NaN
}

/** Hops that belong to the routine lane (replaced by the backlog growth when the load is not sustained). */
const ROUTINE_HOPS: readonly Hop[] = ['scrubbed', 'anomaly', 'decision', 'command', 'ack', 'clickhouse']

/** The flood again, at `rate`, against a second Ben started as `ben up --workers N` (fresh BEN_HOME). */
async function workersFlood(rate: number): Promise<Phase> {
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-lat-w-'))
  const running = await startBen(benEnv(home), silentLogger(), defaultServices({ workers: WORKERS }))
  const sim = await startTargets(running.endpoints.natsUrl)
  try {
    const readyMs = await workersReady(running)
    process.stderr.write(
      `bench:latency: ben up --workers ${WORKERS} decided its first alert ${(readyMs / 1000).toFixed(1)} s after start; flood at ${rate} facts/s for ${SECONDS} s…\n`,
    )
    return await phase(running, 'flood_workers', rate)
  } finally {
    await sim.stop()
    await running.stop()
    rmSync(home, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-lat-'))
  const running = await startBen(benEnv(home), silentLogger(), defaultServices())
  // Targets that verify and ack the commands (web-1 … web-N); they publish no telemetry.
  const sim = await startTargets(running.endpoints.natsUrl)
  const phases: Phase[] = []
  let base: BaselineFigures
  try {
    process.stderr.write(`bench:latency: baseline (raw JetStream relay, ${BASELINE_HOPS} hops, 20 msgs/s) for ${Math.ceil(SECONDS / 2)} s…\n`)
    base = await relayBaseline(running.ctx.nc, Math.ceil(SECONDS / 2))
    for (const [load, rate] of [
      ['sparse', 0],
      ['bursty', 0],
      ['steady', STEADY_RATE],
    ] as const) {
      // The flood is 2× the capacity measured in the same run: without BENCH_FLOOD_RATE, the steady phase runs for it.
      if (!LOADS.includes(load) && !(load === 'steady' && LOADS.includes('flood') && FLOOD_RATE <= 0)) continue
      process.stderr.write(`bench:latency: ${load} load for ${SECONDS} s…\n`)
      phases.push(await profiled(PROFILE_LOAD === load, () => phase(running, load, rate)))
    }
    if (LOADS.includes('flood')) {
      // Overload: a routine flood at 2× what the chain sustained under the steady load.
      const steady = phases.find((p) => p.load === 'steady')
      const capacity = FLOOD_RATE > 0 ? FLOOD_RATE / 2 : Math.max(1000, !steady ? STEADY_RATE : steady.sustained ? steady.publishedPerS : steady.scrubbedPerS)
      process.stderr.write(`bench:latency: flood at ${2 * capacity} facts/s (${FLOOD_RATE > 0 ? 'BENCH_FLOOD_RATE' : `2× ${capacity}`}) for ${SECONDS} s…\n`)
      phases.push(await profiled(PROFILE_LOAD === 'flood', () => phase(running, 'flood', 2 * capacity)))
    }
  } finally {
    await sim.stop()
    await running.stop()
    rmSync(home, { recursive: true, force: true })
  }
  const flood = phases.find((p) => p.load === 'flood')
  if (WORKERS > 0 && flood) phases.push(await workersFlood(flood.rate))

  const cell = (x: HopFigures) => (x.n ? `${x.p50} / ${x.p99} / ${x.max} (${x.n})` : '—')
  const growthText = (p: Phase) =>
    `+${p.backlogPerS}/s (${Object.entries(p.growth)
      .map(([c, g]) => `${c} +${g}/s`)
      .join(', ')})`
  const verdict = (p: Phase) =>
    p.sustained
      ? 'sustained'
      : `NOT sustained: ${p.backlogPerS > 0 ? `backlog ${growthText(p)}` : 'no backlog growth'}${p.climbing && p.climb ? `; routine latency climbs (publish → scrubbed p50 ${p.climb.firstMs} ms in the first quarter, ${p.climb.lastMs} ms in the last)` : ''}; published ${p.publishedPerS}/s${p.rate ? ` of ${p.rate}/s offered` : ''}${p.notOffered ? ` (${p.notOffered} not offered: the feed could publish no faster on this machine)` : ''}; scrub settled ${p.scrubbedPerS}/s; drained in ${(p.drainMs / 1000).toFixed(1)} s`
  printTable(
    ['', ...BASE_COLS],
    base.hops.map((x, i) => [`baseline: raw JetStream relay, publish → hop ${i + 1}`, cell(x)]),
  )
  printTable(
    [
      'load',
      ...HOPS.map((h) => `${h} ms p50/p99/max (n)`),
      'event loop delay ms p50/p99/max',
      'CPU µs/fact ben / nats-server',
      'page faults/s ben / nats-server',
      'GC ms/s, longest',
      'verdict',
    ],
    phases.map((p) => [
      `${p.load}${p.rate ? ` ${p.rate}/s` : ''}`,
      ...HOPS.map((h) => (p.sustained || !ROUTINE_HOPS.includes(h) ? cell(p.hops[h]) : 'not sustained')),
      `${p.loopDelay.p50} / ${p.loopDelay.p99} / ${p.loopDelay.max}`,
      `${p.cpu.benUsPerFact} / ${p.cpu.natsUsPerFact}`,
      `${p.faults.benPerS} / ${Number.isFinite(p.faults.natsPerS) ? p.faults.natsPerS : '?'}`,
      `${p.gc.msPerS}, ${p.gc.maxMs}`,
      verdict(p),
    ]),
  )
  const ms = (x: number) => (Number.isFinite(x) ? String(Math.round(x)) : '?')
  printTable(
    ['load', `slowest ${WORST_SHOWN} anomalies: total ms (publish → stored, → scrubbed, → anomaly) @ s into the phase`],
    phases.map((p) => [p.load, p.worst.map((w) => `${ms(w.total)} (${ms(w.stored)}, ${ms(w.scrubbed)}, ${ms(w.anomaly)}) @ ${(w.at / 1000).toFixed(1)}`).join('; ')]),
  )
  const fig: Record<string, unknown> = {
    bench: 'latency',
    seconds: SECONDS,
    under_load: loadavg()[0] / cpus().length > 1,
    load_per_core: +(loadavg()[0] / cpus().length).toFixed(2),
    workers: WORKERS,
    alert_rate: alertRate('sparse'),
    flood_alert_rate: alertRate('flood'),
  }
  base.hops.forEach((x, i) => {
    fig[`baseline_hop${i + 1}_p50_ms`] = x.p50
    fig[`baseline_hop${i + 1}_p99_ms`] = x.p99
  })
  for (const p of phases) {
    for (const h of HOPS) {
      const key = `${p.load}_${h.replace('→', '_to_')}`
      // Not sustained: no latency for the routine lane's hops (it only grows with the run), the backlog instead.
      const shown = p.sustained || !ROUTINE_HOPS.includes(h)
      fig[`${key}_n`] = p.hops[h].n
      fig[`${key}_p50_ms`] = shown ? p.hops[h].p50 : null
      fig[`${key}_p99_ms`] = shown ? p.hops[h].p99 : null
      fig[`${key}_max_ms`] = shown ? p.hops[h].max : null
      // what the routine hops measured anyway (an A/B on a loaded machine, where a projector's sawtooth backlog can tip the verdict)
      if (!shown) fig[`${key}_unsustained_p50_p99_max_ms`] = [p.hops[h].p50, p.hops[h].p99, p.hops[h].max]
    }
    fig[`${p.load}_rate`] = p.rate
    fig[`${p.load}_sent`] = p.sent
    fig[`${p.load}_published_per_s`] = p.publishedPerS
    fig[`${p.load}_not_offered`] = p.notOffered
    fig[`${p.load}_routine_window_min_p50`] = p.routineWindow
    fig[`${p.load}_scrubbed_per_s`] = p.scrubbedPerS
    fig[`${p.load}_backlog_growth_per_s`] = p.backlogPerS
    fig[`${p.load}_backlog_growth_by_consumer`] = p.growth
    fig[`${p.load}_backlog_at_end`] = p.backlogAtEnd
    fig[`${p.load}_drain_ms`] = p.drainMs
    fig[`${p.load}_sustained`] = p.sustained
    fig[`${p.load}_latency_climbing`] = p.climbing
    fig[`${p.load}_event_loop_delay_p50_ms`] = p.loopDelay.p50
    fig[`${p.load}_event_loop_delay_p99_ms`] = p.loopDelay.p99
    fig[`${p.load}_event_loop_delay_max_ms`] = p.loopDelay.max
    fig[`${p.load}_anomaly_slowest`] = p.worst.map((w) => ({ total_ms: Math.round(w.total), stored_ms: w.stored, scrubbed_ms: w.scrubbed, anomaly_ms: w.anomaly }))
    fig[`${p.load}_ben_cpu_us_per_fact`] = p.cpu.benUsPerFact
    fig[`${p.load}_ben_main_thread_cpu_us_per_fact`] = Number.isFinite(p.cpu.mainUsPerFact) ? p.cpu.mainUsPerFact : null
    fig[`${p.load}_gc_ms_per_s`] = p.gc.msPerS
    fig[`${p.load}_ben_page_faults_per_s`] = p.faults.benPerS
    fig[`${p.load}_nats_page_faults_per_s`] = Number.isFinite(p.faults.natsPerS) ? p.faults.natsPerS : null
    fig[`${p.load}_gc_longest_ms`] = p.gc.maxMs
    fig[`${p.load}_nats_cpu_us_per_fact`] = Number.isFinite(p.cpu.natsUsPerFact) ? p.cpu.natsUsPerFact : null
    if (p.climb) {
      fig[`${p.load}_scrubbed_p50_first_quarter_ms`] = p.climb.firstMs
      fig[`${p.load}_scrubbed_p50_last_quarter_ms`] = p.climb.lastMs
    }
    // Against the floor measured in the same run: publish → anomaly is two hops (scrub, detect).
    if (p.sustained && p.hops.anomaly.n && base.hops[1].p99) fig[`${p.load}_anomaly_p99_vs_baseline_2hops`] = +(p.hops.anomaly.p99 / base.hops[1].p99).toFixed(2)
    // Alert → decision is two hops too (scrub, policy); shown sustained or not (the lanes' promise).
    if (p.hops['alert→decision'].n && base.hops[1].p99) fig[`${p.load}_alert_to_decision_p99_vs_baseline_2hops`] = +(p.hops['alert→decision'].p99 / base.hops[1].p99).toFixed(2)
  }
  process.stdout.write(JSON.stringify(fig) + '\n')
}

const BASE_COLS = ['ms p50 / p99 / max (n)']

main().catch((err) => {
  process.stderr.write(`bench:latency failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
