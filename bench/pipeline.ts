/**
 * bench:pipeline — facts/s through the whole chain (scrub → detect → policy → act + incident,
 * and the projectors into ClickHouse) with the stages in 1, 2 and 4 worker processes (`ben up
 * --workers N`, P = N partitions), on one backlog published before each run (the same facts
 * every time), against a baseline in the same run: the same backlog through the facts
 * projector alone. Each run ends when every stage and projector consumer has nothing pending
 * and the facts table holds the backlog; the derived facts (scrubbed, anomaly, decision, cmd,
 * incident) of every run are compared with the first run's: identical whatever the worker
 * count. Then the latency from publish to anomaly fact at 10,000 facts/s (p50, p99) against the
 * 2-worker Ben. Prints a table, then one JSON line.
 *
 * The ceiling: the same backlog through `bench/go/jschain.go` (nats.go), which does what scrub
 * does at the transport level and nothing else (ack-all pull consumer on FACTS, one message per
 * fact to DERIVED with its Nats-Msg-Id, acked async, the input acked once its outputs are). Every
 * run reports CPU µs per fact of Ben's processes (this one plus the workers) and of the
 * nats-server (/proc/<pid>/stat), and the JetStream messages the chain moved per fact (stream
 * writes and consumer deliveries, from the stream and consumer info after the run), so that the
 * chain's figure can be read against what nats-server allows on this machine.
 *
 * BENCH_FACTS (backlog size), BENCH_WORKERS (`1,2,4`), BENCH_LATENCY=0 (no latency phase),
 * BENCH_TIMEOUT_S (longest a run may take to drain), BENCH_CEILING=0 (no nats.go ceiling run),
 * BENCH_PROFILE=file.cpuprofile (a CPU profile of the in-process run), BENCH_CONSUMERS=1 (each
 * durable's deliveries on stderr).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'hdr-histogram-js'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { homePaths, embeddedEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { defaultServices } from '../cli/up.js'
import { printTable } from '../cli/output.js'
import { followSubjects } from '../streams/index.js'
import { specOf, STAGE_NAMES } from '../processors/pipeline.js'
import type { AnomalyFact } from '../schemas/index.js'
import { compileGo, runGo } from './go-baseline.js'
import { profiled } from './profile.js'
import { childrenOf, procCpu, procWrites, selfCpu } from './proc-cpu.js'
import { childResult } from './child-result.js'

const FACTS = Number(process.env.BENCH_FACTS ?? 200_000)
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2,4')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900)
const LATENCY = process.env.BENCH_LATENCY !== '0'
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 10_000)
const CEILING = process.env.BENCH_CEILING !== '0'
/** Event time of the backlog's first fact (fixed: every run publishes the same facts). */
const START_TS = Date.UTC(2026, 0, 5, 9)
/** Seconds of event time the backlog spans (ten hosts): long enough for the detectors to learn each series and flag the scenarios. */
const SPAN_S = Number(process.env.BENCH_SPAN_S ?? 400)
const feedScript = join(fileURLToPath(new URL('.', import.meta.url)), 'pipeline-feed.js')

function feed(url: string, args: string[]): Promise<{ sent: number; failed: number; seconds: number }> {
  const child = spawn(process.execPath, [feedScript, '--url', url, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  return childResult(child, 'the feed')
}

async function rows(r: Running, table: string): Promise<number> {
  const rs = await r.ctx.warehouse.client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })
  return Number((await rs.json<{ n: string }>())[0].n)
}

async function start(home: string, services: Parameters<typeof startBen>[2]): Promise<Running> {
  return startBen(embeddedEnv(home), silentLogger(), services)
}

/** The stage durables of the graph with P partitions (each lane of each unit has one). */
function stageDurables(partitions: number): number {
  return STAGE_NAMES.reduce((n, s) => n + specOf(s).inputs.length * (specOf(s).partitionKey && partitions > 1 ? partitions : 1), 0)
}

/**
 * Every stage durable exists and has nothing pending nor un-acked, every projector nothing
 * pending (`started`: only that every stage durable exists, i.e. every unit runs).
 */
async function drained(r: Running, partitions: number, started = false): Promise<boolean> {
  const jsm = await jetstreamManager(r.ctx.nc)
  let stages = 0
  for (const stream of ['FACTS', 'DERIVED', 'COMMANDS']) {
    for await (const c of jsm.consumers.list(stream)) {
      const stage = c.name.startsWith('stage-')
      if (!stage && !c.name.startsWith('proj-')) continue
      if (stage) stages++
      if (started) continue
      if (c.num_pending > 0 || (stage && c.num_ack_pending > 0)) return false
    }
  }
  // every unit's durables exist once its worker runs it
  return stages >= stageDurables(partitions)
}

/** Per kind of derived fact: how many, and a digest of (id, bytes) sorted by id. */
async function derivedDigest(r: Running): Promise<Record<string, { n: number; digest: string }>> {
  const byKind = new Map<string, Array<[string, string]>>()
  const jsm = await jetstreamManager(r.ctx.nc)
  for (const stream of ['DERIVED', 'COMMANDS']) {
    const info = await jsm.streams.info(stream)
    let left = info.state.messages
    if (left === 0) continue
    const c = await jetstream(r.ctx.nc).consumers.get(stream)
    while (left > 0) {
      const it = await c.fetch({ max_messages: Math.min(left, 10_000), expires: 10_000 })
      let got = 0
      for await (const m of it) {
        got++
        const kind = m.subject.split('.')[1]
        if (kind === 'ack') continue
        let l = byKind.get(kind)
        if (!l) byKind.set(kind, (l = []))
        l.push([m.headers?.get('Nats-Msg-Id') ?? '', createHash('sha256').update(m.data).digest('hex')])
      }
      if (got === 0) break
      left -= got
    }
  }
  const out: Record<string, { n: number; digest: string }> = {}
  for (const [kind, l] of [...byKind].sort()) {
    l.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const h = createHash('sha256')
    // incidents are compared by id: their bodies carry the arrival order across partitions
    for (const [id, body] of l) h.update(kind === 'incident' ? `${id}\n` : `${id} ${body}\n`)
    out[kind] = { n: l.length, digest: h.digest('hex').slice(0, 16) }
  }
  return out
}

interface Run {
  readonly label: string
  readonly workers: number
  readonly facts: number
  readonly seconds: number
  readonly perSecond: number
  readonly drained: boolean
  readonly derived?: Record<string, { n: number; digest: string }>
  /** CPU µs per fact while it drained: Ben's processes (this one and its workers), the nats-server. */
  readonly cpuUsPerFact?: { ben: number; nats: number }
  /** Write system calls of Ben's processes per fact (/proc/<pid>/io syscw: sockets and files). */
  readonly writesPerFact?: number
  /** JetStream messages per fact of the backlog: stream writes (DERIVED, COMMANDS) and consumer deliveries (FACTS, DERIVED, COMMANDS). */
  readonly msgsPerFact?: { writes: number; deliveries: number }
}

/** CPU seconds so far of Ben's processes (this one and its worker children, by pid) and of the nats-server. */
function cpuNow(natsPid: number | undefined, seen: Map<number, { cpu: number; writes: number }>): { ben: number; nats: number; writes: number } {
  for (const c of childrenOf(process.pid))
    if (c.pid !== natsPid && c.comm !== 'nats-server') {
      const last = seen.get(c.pid)
      seen.set(c.pid, { cpu: procCpu(c.pid) || (last?.cpu ?? 0), writes: procWrites(c.pid) || (last?.writes ?? 0) })
    }
  let workers = 0
  let writes = procWrites(process.pid)
  for (const v of seen.values()) {
    workers += v.cpu
    writes += v.writes
  }
  return { ben: selfCpu() + workers, nats: natsPid ? procCpu(natsPid) : 0, writes }
}

/**
 * Stream writes (every stream but FACTS, KV buckets included: its last sequence, so superseded
 * checkpoint values count) and consumer deliveries (every durable of FACTS, DERIVED, COMMANDS).
 */
async function messagesMoved(r: Running): Promise<{ writes: number; deliveries: number }> {
  const jsm = await jetstreamManager(r.ctx.nc)
  let writes = 0
  let deliveries = 0
  for await (const s of jsm.streams.list()) if (s.config.name !== 'FACTS') writes += s.state.last_seq
  for (const stream of ['FACTS', 'DERIVED', 'COMMANDS'])
    for await (const c of jsm.consumers.list(stream)) {
      deliveries += c.delivered.consumer_seq
      if (process.env.BENCH_CONSUMERS === '1')
        process.stderr.write(`  ${stream} ${c.name}: delivered ${c.delivered.consumer_seq} (stream seq ${c.delivered.stream_seq}), redelivered ${c.num_redelivered}\n`)
    }
  return { writes, deliveries }
}

/** A fresh Ben with no services, the backlog published into it (the same facts as every run). */
async function withBacklog(home: string): Promise<{ bare: Running; sent: number }> {
  const bare = await start(home, [])
  const fed = await feed(bare.endpoints.natsUrl, ['--rate', '0', '--count', String(FACTS), '--start-ts', String(START_TS), '--fleet-rate', String(FACTS / SPAN_S), '--hosts', '10'])
  if (fed.failed) throw new Error(`${fed.failed} facts of the backlog were not stored`)
  return { bare, sent: fed.sent }
}

interface Ceiling {
  readonly perSecond: number
  readonly seconds: number
  readonly cpuUsPerFact: { client: number; nats: number }
  readonly msgsPerFact: { writes: number; deliveries: number }
}

/**
 * The nats.go ceiling (bench/go/jschain.go): the backlog read from FACTS and written again to
 * DERIVED one message per fact, inputs acked after their outputs; the nats-server's and the Go
 * program's CPU per fact. Undefined (with the reason on stderr) when Go or nats.go is missing.
 */
async function ceiling(): Promise<Ceiling | undefined> {
  const prog = compileGo('jschain.go')
  if (!prog.ok) {
    process.stderr.write(`ceiling: skipped: ${prog.reason}\n`)
    return undefined
  }
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-pipe-'))
  const { bare, sent } = await withBacklog(home)
  try {
    const natsPid = bare.endpoints.natsPid
    const nats0 = natsPid ? procCpu(natsPid) : 0
    const out = await runGo<{ inputs: number; stored: number; failed: number; secs: number; cpu_s: number }>(prog.bin, [
      bare.endpoints.natsUrl,
      'FACTS',
      'ben',
      String(sent),
      '256',
      '8',
    ])
    const nats1 = natsPid ? procCpu(natsPid) : 0
    if (out.stored !== sent || out.failed) throw new Error(`ceiling: ${out.stored} of ${sent} outputs stored, ${out.failed} failed`)
    const msgs = await messagesMoved(bare)
    const c: Ceiling = {
      perSecond: Math.round(sent / out.secs),
      seconds: +out.secs.toFixed(2),
      cpuUsPerFact: { client: Math.round((out.cpu_s * 1e6) / sent), nats: Math.round(((nats1 - nats0) * 1e6) / sent) },
      msgsPerFact: { writes: +(msgs.writes / sent).toFixed(2), deliveries: +(msgs.deliveries / sent).toFixed(2) },
    }
    process.stderr.write(
      `ceiling (nats.go, scrub's transport only): ${sent} facts in ${c.seconds} s: ${c.perSecond.toLocaleString()} facts/s; CPU µs/fact client ${c.cpuUsPerFact.client}, nats-server ${c.cpuUsPerFact.nats}\n`,
    )
    return c
  } finally {
    await bare.stop()
    rmSync(home, { recursive: true, force: true, maxRetries: 5 })
    rmSync(prog.dir, { recursive: true, force: true })
  }
}

/**
 * One run: a fresh Ben, the backlog published with no stages running, then Ben again with
 * `services`, timed until it has drained (or TIMEOUT_S, then the rate counts the facts table).
 */
async function run(
  label: string,
  services: Parameters<typeof startBen>[2],
  opts: { workers: number; digest: boolean; keys?: string; keep?: boolean },
): Promise<Run & { running?: Running; home: string }> {
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-pipe-'))
  // the same issuer key in every run: the signed commands are the same bytes
  if (opts.keys && existsSync(opts.keys)) cpSync(opts.keys, homePaths(home).keys, { recursive: true })
  const { bare, sent } = await withBacklog(home)
  const fed = { sent }
  await bare.stop()
  const running = await start(home, services)
  const partitions = Math.max(1, opts.workers)
  // The clock starts once every unit runs (worker processes take a while to start): what was
  // projected by then is not counted.
  let t0 = performance.now()
  let before = 0
  if (opts.workers >= 0) {
    while (!(await drained(running, partitions, true))) {
      if (performance.now() - t0 > TIMEOUT_S * 1000) throw new Error(`${label}: the stages did not start in ${TIMEOUT_S} s`)
      await new Promise((res) => setTimeout(res, 100))
    }
    t0 = performance.now()
    before = await rows(running, 'facts')
  }
  const natsPid = running.endpoints.natsPid
  const seen = new Map<number, { cpu: number; writes: number }>()
  const cpu0 = cpuNow(natsPid, seen)
  const deadline = t0 + TIMEOUT_S * 1000
  let done = false
  let completed = 0
  while (performance.now() < deadline) {
    await new Promise((res) => setTimeout(res, 250))
    completed = await rows(running, 'facts')
    if (completed >= fed.sent && (opts.workers < 0 || (await drained(running, partitions)))) {
      done = true
      break
    }
  }
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpuNow(natsPid, seen)
  const perSecond = Math.round(((done ? fed.sent : completed) - before) / seconds)
  const counted = Math.max(1, (done ? fed.sent : completed) - before)
  // a worker first seen after t0 counts from 0 (cpu0 holds the others' CPU at t0)
  const cpuUsPerFact = {
    ben: Math.round(((cpu1.ben - cpu0.ben) * 1e6) / counted),
    nats: Math.round(((cpu1.nats - cpu0.nats) * 1e6) / counted),
  }
  const writesPerFact = +((cpu1.writes - cpu0.writes) / counted).toFixed(3)
  const msgs = await messagesMoved(running)
  const msgsPerFact = { writes: +(msgs.writes / fed.sent).toFixed(2), deliveries: +(msgs.deliveries / fed.sent).toFixed(2) }
  process.stderr.write(
    `${label}: ${fed.sent} facts (${before} projected before every unit ran), ${done ? 'drained' : `NOT drained (${completed} in the facts table)`} in ${seconds.toFixed(1)} s: ${perSecond.toLocaleString()} facts/s; CPU µs/fact Ben ${cpuUsPerFact.ben}, nats-server ${cpuUsPerFact.nats}; ${writesPerFact} write syscalls of Ben per fact; per fact ${msgsPerFact.writes} stream writes, ${msgsPerFact.deliveries} deliveries\n`,
  )
  const derived = opts.digest && done ? await derivedDigest(running) : undefined
  const r = { label, workers: opts.workers, facts: fed.sent, seconds: +seconds.toFixed(2), perSecond, drained: done, derived, cpuUsPerFact, writesPerFact, msgsPerFact, home }
  if (opts.keep) return { ...r, running }
  await running.stop()
  rmSync(home, { recursive: true, force: true, maxRetries: 5 })
  return r
}

async function latency(running: Running): Promise<{ sent: number; samples: number; p50: number; p99: number; max: number }> {
  const hist = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 })
  const sub = followSubjects(running.ctx.nc, running.ctx.registry, 'ben.anomaly.*.probe', { deliver: 'new' }).subscribe((d) => {
    if (!d.result.ok) return
    const a = d.result.value as AnomalyFact
    hist.recordValue(Math.max(1, Date.now() - a.ts))
  })
  const lat = await feed(running.endpoints.natsUrl, ['--rate', String(LATENCY_RATE), '--seconds', '30', '--probe'])
  await new Promise((r) => setTimeout(r, 3000))
  sub.unsubscribe()
  return { sent: lat.sent, samples: hist.totalCount, p50: hist.getValueAtPercentile(50), p99: hist.getValueAtPercentile(99), max: hist.maxValue }
}

async function main(): Promise<void> {
  const rssStart = process.memoryUsage().rss
  const { projectorService } = await import('../cli/services.js')
  const { factsProjection } = await import('../projections/index.js')
  const { decodeStats } = await import('../streams/decode-cache.js')

  // Ceiling: what nats-server allows for scrub's JetStream work on this machine (nats.go).
  const ceil = CEILING ? await ceiling() : undefined
  // Baseline: the same backlog into the facts table by the projector alone (no stages).
  const baseline = await run('baseline: facts projector alone', [projectorService(factsProjection())], { workers: -1, digest: false })

  // The stages in this process (no workers), then in 1, 2, 4 worker processes.
  const runs: Run[] = []
  // BENCH_PROFILE=file.cpuprofile: a CPU profile of this process during the in-process run
  const inProcess = await profiled(true, () => run('stages in the ben up process', defaultServices(), { workers: 0, digest: true, keep: true }))
  const keys = join(tmpdir(), `ben-bench-keys-${process.pid}`)
  cpSync(homePaths(inProcess.home).keys, keys, { recursive: true })
  await inProcess.running!.stop()
  rmSync(inProcess.home, { recursive: true, force: true, maxRetries: 5 })
  runs.push(inProcess)
  const decodes = { ...decodeStats }
  let lat: Awaited<ReturnType<typeof latency>> | undefined
  for (const w of WORKERS) {
    const keep = LATENCY && w === 2
    const r = await run(`${w} worker${w > 1 ? 's' : ''} (--workers ${w}, ${w} partitions)`, defaultServices({ workers: w, partitions: w }), {
      workers: w,
      digest: true,
      keys,
      keep,
    })
    runs.push(r)
    if (r.running) {
      lat = await latency(r.running)
      await r.running.stop()
      rmSync(r.home, { recursive: true, force: true, maxRetries: 5 })
    }
  }
  rmSync(keys, { recursive: true, force: true })

  const ref = runs.find((r) => r.derived)?.derived
  const same = runs.every((r) => !r.derived || JSON.stringify(r.derived) === JSON.stringify(ref))
  const mb = (n: number) => Math.round(n / 1048576)
  const curve = Object.fromEntries(runs.filter((r) => r.workers > 0).map((r) => [String(r.workers), r.perSecond]))
  const fig = {
    bench: 'pipeline',
    facts: FACTS,
    baseline_projector_only_facts_per_s: baseline.perSecond,
    in_process_facts_per_s: inProcess.perSecond,
    workers_facts_per_s: curve,
    ratio_to_baseline: Object.fromEntries(runs.map((r) => [r.workers === 0 ? 'in_process' : String(r.workers), +(r.perSecond / Math.max(1, baseline.perSecond)).toFixed(2)])),
    ...(ceil
      ? {
          ceiling_nats_go_facts_per_s: ceil.perSecond,
          ceiling_cpu_us_per_fact: ceil.cpuUsPerFact,
          ceiling_msgs_per_fact: ceil.msgsPerFact,
          ratio_to_ceiling: Object.fromEntries(runs.map((r) => [r.workers === 0 ? 'in_process' : String(r.workers), +(r.perSecond / ceil.perSecond).toFixed(3)])),
        }
      : {}),
    cpu_us_per_fact: Object.fromEntries([baseline, ...runs].map((r) => [r.workers < 0 ? 'projector_alone' : r.workers === 0 ? 'in_process' : String(r.workers), r.cpuUsPerFact])),
    write_syscalls_per_fact: Object.fromEntries(
      [baseline, ...runs].map((r) => [r.workers < 0 ? 'projector_alone' : r.workers === 0 ? 'in_process' : String(r.workers), r.writesPerFact]),
    ),
    msgs_per_fact: Object.fromEntries(runs.map((r) => [r.workers === 0 ? 'in_process' : String(r.workers), r.msgsPerFact])),
    all_drained: runs.every((r) => r.drained),
    derived_identical: same,
    derived: ref ? Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, v.n])) : {},
    decode_shared_hits_in_process: decodes.hits,
    decode_misses_in_process: decodes.misses,
    ...(lat
      ? {
          latency_rate: LATENCY_RATE,
          latency_published: lat.sent,
          latency_samples: lat.samples,
          latency_p50_ms: lat.samples ? lat.p50 : null,
          latency_p99_ms: lat.samples ? lat.p99 : null,
          latency_max_ms: lat.samples ? lat.max : null,
        }
      : {}),
    rss_process_start_mb: mb(rssStart),
    rss_end_mb: mb(process.memoryUsage().rss),
  }
  const cpuCell = (c?: { ben: number; nats: number }) => (c ? `${c.ben} / ${c.nats}` : '')
  const ofCeiling = (n: number) => (ceil ? `${((100 * n) / ceil.perSecond).toFixed(1)} %` : '')
  printTable(
    ['what', 'facts/s', 'of ceiling', 'CPU µs/fact Ben / nats-server', 'msgs/fact writes + deliveries', 'drained in', 'derived facts'],
    [
      ...(ceil
        ? [
            [
              "ceiling: nats.go doing scrub's JetStream work only",
              ceil.perSecond.toLocaleString(),
              '100 %',
              `${ceil.cpuUsPerFact.client} (Go) / ${ceil.cpuUsPerFact.nats}`,
              `${ceil.msgsPerFact.writes} + ${ceil.msgsPerFact.deliveries}`,
              `${ceil.seconds} s`,
              '',
            ],
          ]
        : []),
      [baseline.label, baseline.perSecond.toLocaleString(), ofCeiling(baseline.perSecond), cpuCell(baseline.cpuUsPerFact), '', `${baseline.seconds} s`, ''],
      ...runs.map((r) => [
        r.label,
        r.perSecond.toLocaleString(),
        ofCeiling(r.perSecond),
        cpuCell(r.cpuUsPerFact),
        r.msgsPerFact ? `${r.msgsPerFact.writes} + ${r.msgsPerFact.deliveries}` : '',
        r.drained ? `${r.seconds} s` : `not in ${r.seconds} s`,
        r.derived
          ? `${JSON.stringify(r.derived) === JSON.stringify(ref) ? 'same' : 'DIFFERENT'} (${Object.entries(r.derived)
              .map(([k, v]) => `${k} ${v.n}`)
              .join(', ')})`
          : '-',
      ]),
      ...(lat
        ? [
            [
              `publish → anomaly at ${LATENCY_RATE.toLocaleString()} facts/s, 2 workers`,
              '',
              '',
              '',
              '',
              '',
              lat.samples
                ? `p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms (${lat.samples} anomalies)`
                : 'no probe anomaly came out while the feed ran: the chain did not keep up, no latency',
            ],
          ]
        : []),
    ],
  )
  process.stdout.write(JSON.stringify(fig) + '\n')
  if (!same) process.exitCode = 1
}

main().catch((err) => {
  process.stderr.write(`bench:pipeline failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
