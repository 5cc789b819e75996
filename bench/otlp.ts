/**
 * bench:otlp — OTLP logs through the sidecar into JetStream, with the OpenTelemetry JS SDK's
 * BatchLogRecordProcessor and protobuf exporter as the client, against two baselines measured in
 * the same run on the same nats-server:
 *
 * - the same records sent as NDJSON to the sidecar's NDJSON door;
 * - the ceiling: what nats-server itself takes of this work. The main OTLP run's messages, read
 *   back from JetStream (same subjects but for the source token, same header lines, same Avro
 *   bytes, a distinct Nats-Msg-Id each), published again by nats.go's PublishMsgAsync with the
 *   drain's window of PubAcks (bench/go/jspub.go, compiled at run time as bench:ingest does).
 *   No intake in front of JetStream can store these messages faster than that.
 *
 * Each run starts a fresh sidecar (bench/otlp-sidecar.ts: fsync batch, the default manifest, so
 * every record is validated and scrubbed) and a fresh client (bench/otlp-client.ts), each in its
 * own process, and times from the first record sent to the last one acknowledged by JetStream;
 * then it counts the records JetStream holds on the sidecar's subject (stream info, not the
 * sidecar's own counters) and fails if any is missing (the SDK drops silently when its queue
 * overflows: its queue holds them all here).
 *
 * Cold and steady. Each run is measured twice, NDJSON and OTLP alike: *cold*, the first N records
 * through the fresh sidecar and client (the figure includes their JIT warm-up: interpreted and
 * baseline code, and the optimising compiler's own CPU, a few µs a record over 200,000 records);
 * then *steady*, N more records (other timestamps, so other facts) through the same two
 * processes, now warm, timed on their own. A long-running sidecar spends its life in the steady
 * state; a short burst into a fresh one pays the cold figure. Each is compared with the NDJSON
 * baseline of the same kind (cold with cold, steady with steady). BENCH_STEADY=0: cold only.
 *
 * Besides records/s (wall, which depends on what else runs on the machine) it prints the CPU
 * each process spent per record — the client (the SDK exporter, the NDJSON poster or nats.go),
 * the sidecar and nats-server — which does not. On 2 cores the three must share 2 CPU-seconds a
 * second: 50,000 records/s leaves 40 µs per record for all of them.
 *
 * Where the time goes besides CPU: "sidecar busy" is the sidecar's CPU (all its threads) over the
 * wall time; its main thread (the event loop: the doors, validate and scrub, the WAL's group
 * commit, the drain) is shown apart, as the share of the wall time it ran and the share it was
 * runnable but waited in the run queue for a CPU (/proc/<pid>/task/<tid>/schedstat); "machine
 * idle" is the idle CPU of the whole machine (/proc/stat; other processes on it count too). A main
 * thread that runs + waits ~95 % of the time has no bubbles of its own to fill: it is the serial
 * stage, and the idle CPU falls while it runs alone (2026-12-05: runs 62-69 %, waits 28-36 %,
 * machine idle 0.2-0.45 cores).
 *
 * The SDK's batch processor exports one batch at a time and waits for the answer: one processor
 * is a round trip per batch. The main OTLP run has BENCH_CLIENTS processors (one per service of
 * a host, each with its own exporter), as a sidecar in front of several programs sees.
 *
 *   npm run build && npm run bench:otlp
 *   BENCH_N (default 200,000) records per run; BENCH_CLIENTS (default 4); BENCH_BATCH (default
 *   2048) the main run's maxExportBatchSize; BENCH_EMIT_SLICE (default 1000) records emitted between
 *   two turns of the client's event loop; BENCH_PROF=<dir> writes the sidecar's --cpu-prof there
 *   (BENCH_PROF_CLIENT=1: the client's too); BENCH_GO_WINDOW (default 4096, the drain's) PubAcks
 *   nats.go awaits at once; BENCH_ONLY=otlp runs the main OTLP run alone (for profiles);
 *   BEN_NATS_NICE the nats-server's priority, as `ben up` sets it (default -20).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { startNatsServer } from '../infra/index.js'
import { streamName, StreamName, Subjects, StreamAdmin } from '../streams/index.js'
import { buildGoBaseline, type GoBaseline, type GoRecord } from './go-baseline.js'
import { machineIdle, procCpu, threadSched } from './proc-cpu.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4)
const BATCH = Number(process.env.BENCH_BATCH ?? 2048)
const PROF = process.env.BENCH_PROF
/** Records emitted between two turns of the client's event loop. */
const EMIT_SLICE = Number(process.env.BENCH_EMIT_SLICE ?? 1000)
/** PubAcks nats.go awaits at once: the sidecar drain's maxInFlight. */
const GO_WINDOW = Number(process.env.BENCH_GO_WINDOW ?? 4096)
/** BENCH_ONLY=otlp: the main OTLP run alone, no baselines (to profile the sidecar; not a result). */
const ONLY_OTLP = process.env.BENCH_ONLY === 'otlp'
/** BENCH_STEADY=0: the cold runs only (no second, warm round through the same processes). */
const STEADY = process.env.BENCH_STEADY !== '0'
/** BEN_NATS_NICE: the embedded nats-server's priority, as in `ben up` (default -20). */
const NATS_NICE = process.env.BEN_NATS_NICE === undefined ? undefined : Number(process.env.BEN_NATS_NICE)
const base = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-otlp-'))
const here = fileURLToPath(new URL('.', import.meta.url))
const FACTS = streamName({}, StreamName.Facts)
const subjects = new Subjects()

/** A child process spoken to over IPC: asks and the answer of a type. */
interface Child {
  readonly pid: number
  ask(m: object, answer: string): Promise<Record<string, unknown>>
  next(answer: string): Promise<Record<string, unknown>>
}

function forkChild(file: string, args: string[], prof: string | undefined): Child {
  const p: ChildProcess = fork(join(here, file), args, {
    execArgv: prof ? ['--cpu-prof', '--cpu-prof-dir', PROF!, '--cpu-prof-name', `${prof}.cpuprofile`] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMsg = (m: Record<string, unknown>) => {
        if (m.type !== type) return
        p.off('message', onMsg)
        p.off('exit', onExit)
        resolve(m)
      }
      const onExit = (code: number | null) => reject(new Error(`bench:otlp: ${file} exited (code ${code}) before '${type}'`))
      p.on('message', onMsg)
      p.once('exit', onExit)
    })
  return {
    pid: p.pid!,
    next,
    ask: (m, answer) => {
      const r = next(answer)
      p.send(m)
      return r
    },
  }
}

interface Status {
  deliveredSeq: number
  stored: number
  accepted: number
  rejected: Record<string, number>
  cpuMicros: number
}

interface SidecarProc {
  readonly id: string
  readonly pid: number
  readonly ndjsonPort: number
  readonly otlpPort: number
  status(): Promise<Status>
  close(): Promise<void>
}

let runNo = 0
async function startSidecar(url: string): Promise<SidecarProc> {
  const id = `bench-otlp-${++runNo}`
  const c = forkChild('otlp-sidecar.js', ['--url', url, '--id', id, '--wal', join(base, id, 'wal')], PROF ? `sidecar-${id}` : undefined)
  const ready = await c.next('ready')
  return {
    id,
    pid: c.pid,
    ndjsonPort: ready.ndjsonPort as number,
    otlpPort: ready.otlpPort as number,
    status: () => c.ask({ type: 'status' }, 'status') as unknown as Promise<Status>,
    close: async () => void (await c.ask({ type: 'close' }, 'closed')),
  }
}

/** Records JetStream holds on a subject. */
async function storedIn(jsm: JetStreamManager, subject: string): Promise<number> {
  const info = await jsm.streams.info(FACTS, { subjects_filter: subject })
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0)
}

type Kind = 'ndjson' | 'otlp' | 'ceiling'
/** cold: the first N records through fresh processes; steady: N more through the same, warm ones. */
type Phase = 'cold' | 'steady'

interface Row {
  name: string
  kind: Kind
  phase: Phase
  secs: number
  /** CPU seconds of the client process, the sidecar (0 for the ceiling: none) and nats-server. */
  clientCpu: number
  sidecarCpu: number
  natsCpu: number
  /** Seconds the sidecar's main thread (its event loop) ran, and waited in the run queue for a CPU (NaN for the ceiling, or without /proc). */
  mainRun: number
  mainWait: number
  /** Idle CPU seconds of the whole machine (both cores added). */
  idle: number
  inJetStream: number
  note: string
}
const rows: Row[] = []

async function until(what: () => Promise<boolean>, deadlineMs: number, why: string): Promise<void> {
  // polls an observable condition until a generous deadline
  const end = performance.now() + deadlineMs
  while (!(await what())) {
    if (performance.now() > end) throw new Error(`bench:otlp: ${why} did not happen within ${deadlineMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

interface Ctx {
  readonly url: string
  readonly natsPid: number
  readonly nc: NatsConnection
  readonly jsm: JetStreamManager
}

/**
 * One client process against a fresh sidecar, measured to the last PubAck: cold, then (unless
 * BENCH_STEADY=0) steady, N more records through the same two processes. Returns the sidecar's id.
 */
async function measure(ctx: Ctx, name: string, kind: 'ndjson' | 'otlp', ask: (sc: SidecarProc, run: number) => object, run: number): Promise<string> {
  const sc = await startSidecar(ctx.url)
  const client = forkChild('otlp-client.js', [], PROF && process.env.BENCH_PROF_CLIENT ? `client-${sc.id}` : undefined)
  try {
    await client.next('ready')
    const phases: Phase[] = STEADY ? ['cold', 'steady'] : ['cold']
    for (let k = 0; k < phases.length; k++) {
      const phase = phases[k]
      const s0 = await sc.status()
      const c0 = (await client.ask({ type: 'cpu' }, 'cpu')).micros as number
      const n0 = procCpu(ctx.natsPid)
      const m0 = threadSched(sc.pid)
      const i0 = machineIdle()
      const t0 = performance.now()
      // the steady round's records are other facts: other timestamps (run numbers 5-8)
      const { note } = (await client.ask(ask(sc, phase === 'cold' ? run : run + 4), 'sent')) as { note: string }
      const want = (k + 1) * N
      let last = s0
      await until(async () => (last = await sc.status()).deliveredSeq >= want, 1_800_000, `the sidecar's delivery of ${want} records`)
      const secs = (performance.now() - t0) / 1000
      const natsCpu = procCpu(ctx.natsPid) - n0
      const m1 = threadSched(sc.pid)
      const idle = machineIdle() - i0
      const c1 = (await client.ask({ type: 'cpu' }, 'cpu')).micros as number
      const row: Row = {
        name,
        kind,
        phase,
        secs,
        clientCpu: (c1 - c0) / 1e6,
        sidecarCpu: (last.cpuMicros - s0.cpuMicros) / 1e6,
        natsCpu,
        mainRun: m1.run - m0.run,
        mainWait: m1.wait - m0.wait,
        idle,
        inJetStream: 0,
        note,
      }
      const held = await storedIn(ctx.jsm, subjects.fact('event', sc.id))
      row.inJetStream = held - k * N
      if (held !== want)
        throw new Error(
          `${name} (${phase}): JetStream holds ${held} of ${want} records (sidecar: accepted ${last.accepted}, rejected ${JSON.stringify(last.rejected)}, stored ${last.stored})`,
        )
      rows.push(row)
      process.stderr.write(`  ${name} (${phase}): ${Math.round(N / secs).toLocaleString('en-US')} records/s\n`)
    }
  } finally {
    await client.ask({ type: 'stop' }, 'stopped')
    await sc.close()
  }
  return sc.id
}

/**
 * The messages a sidecar stored on `ben.fact.event.<from>`, as nats.go is to send them again on
 * `ben.fact.event.<to>`: the same header lines and bytes, the Nats-Msg-Id's source part changed.
 */
async function storedMessages(nc: NatsConnection, from: string, to: string): Promise<GoRecord[]> {
  const c = await jetstream(nc).consumers.get(FACTS, { filter_subjects: subjects.fact('event', from), deliver_policy: DeliverPolicy.All })
  const out: GoRecord[] = []
  const msgs = await c.consume({ max_messages: 4096 })
  for await (const m of msgs) {
    let lines = ''
    let id = ''
    for (const k of m.headers?.keys() ?? []) {
      if (k === 'Nats-Msg-Id') id = m.headers!.get(k)
      else lines += `${k}: ${m.headers!.get(k)}\r\n`
    }
    if (!id.startsWith(`${from}:`)) throw new Error(`bench:otlp: stored message ${m.seq} has Nats-Msg-Id '${id}', not one of ${from}'s`)
    out.push({ subject: subjects.fact('event', to), id: `${to}${id.slice(from.length)}`, headers: lines, data: m.data.slice() })
    if (out.length === N) break
  }
  await msgs.close()
  return out
}

/** nats.go publishing the main OTLP run's messages again: nats-server's own limit for this work. */
async function ceiling(ctx: Ctx, go: Extract<GoBaseline, { ok: true }>, from: string): Promise<void> {
  const to = from.replace('otlp', 'ceil')
  const recs = await storedMessages(ctx.nc, from, to)
  const n0 = procCpu(ctx.natsPid)
  const i0 = machineIdle()
  const o = await go.run(ctx.url, recs, GO_WINDOW, '', '')
  const natsCpu = procCpu(ctx.natsPid) - n0
  if (o.stored !== N || o.failed) throw new Error(`nats.go ceiling stored ${o.stored} of ${N}, ${o.failed} failed, ${o.duplicate} duplicates`)
  const bytes = recs.reduce((a, r) => a + r.data.length + r.headers!.length, 0)
  const row: Row = {
    name: 'ceiling: nats.go PublishMsgAsync of those messages',
    kind: 'ceiling',
    phase: 'cold',
    secs: o.secs,
    clientCpu: o.cpuSecs,
    sidecarCpu: 0,
    natsCpu,
    mainRun: NaN,
    mainWait: NaN,
    idle: machineIdle() - i0,
    inJetStream: await storedIn(ctx.jsm, subjects.fact('event', to)),
    note: `${GO_WINDOW} PubAcks awaited at once; ~${Math.round(bytes / N)} B of headers + Avro a message`,
  }
  if (row.inJetStream !== N) throw new Error(`nats.go ceiling: JetStream holds ${row.inJetStream} of ${N}`)
  rows.push(row)
  process.stderr.write(`  ${row.name}: ${Math.round(N / o.secs).toLocaleString('en-US')} records/s\n`)
}

const ndjson = (sc: SidecarProc, run: number) => ({ type: 'ndjson', port: sc.ndjsonPort, run, n: N })
const otlp = (clients: number, batch: number) => (sc: SidecarProc, run: number) => ({ type: 'otlp', port: sc.otlpPort, run, n: N, clients, batch, slice: EMIT_SLICE })
const OTLP = 'OTLP/HTTP protobuf, SDK batch processor → JetStream'
const NDJSON = 'NDJSON POST /facts → JetStream'

async function main(): Promise<void> {
  const go = buildGoBaseline()
  if (!go.ok) process.stdout.write(`nats.go ceiling skipped: ${go.reason}\n`)
  const server = await startNatsServer({ storeDir: join(base, 'nats'), nice: NATS_NICE })
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1 })
  const jsm = await jetstreamManager(nc)
  const ctx: Ctx = { url: server.url, natsPid: server.pid, nc, jsm }
  try {
    await (await StreamAdmin.open(nc)).ensureTopology({ subjects })
    if (!ONLY_OTLP) await measure(ctx, NDJSON, 'ndjson', ndjson, 1)
    const main = await measure(ctx, OTLP, 'otlp', otlp(CLIENTS, BATCH), 2)
    if (!ONLY_OTLP) {
      if (go.ok) await ceiling(ctx, go, main)
      await measure(ctx, OTLP, 'otlp', otlp(1, 512), 3)
      await measure(ctx, NDJSON, 'ndjson', ndjson, 4) // the baseline again, after the bench's own JIT has seen everything
    }
  } finally {
    if (go.ok) go.close()
    await nc.close()
    await server.stop()
    rmSync(base, { recursive: true, force: true })
  }
  report(go.ok ? undefined : go.reason)
}

function report(goSkipped: string | undefined): void {
  const rate = (r: Row) => N / r.secs
  // each run against the NDJSON baseline of its own phase (cold with cold, steady with steady)
  const baselineOf = (phase: Phase) => {
    const rates = rows.filter((r) => r.kind === 'ndjson' && r.phase === phase).map(rate)
    return rates.length > 0 ? Math.max(...rates) : NaN
  }
  const baseline = baselineOf('cold')
  const steadyBaseline = baselineOf('steady')
  const versus = (r: Row) => rate(r) / (r.phase === 'steady' ? steadyBaseline : baseline)
  const ceil = rows.find((r) => r.kind === 'ceiling')
  const us = (secs: number) => (secs === 0 ? '-' : ((secs * 1e6) / N).toFixed(1))
  const pct = (x: number, r: Row) => (Number.isNaN(x) ? '-' : `${Math.round((x / r.secs) * 100)}%`)
  const head = [
    'run',
    'phase',
    'records/s',
    '× NDJSON',
    '× nats.go',
    'µs CPU/record: client',
    'sidecar',
    'nats-server',
    'all',
    'sidecar busy',
    'its main thread runs',
    'waits for a CPU',
    'machine idle',
    'note',
  ]
  const body = rows.map((r) => [
    r.name,
    r.kind === 'ceiling' ? '-' : r.phase,
    Math.round(rate(r)).toLocaleString('en-US'),
    r.kind === 'ceiling' ? '-' : versus(r).toFixed(2),
    ceil ? (rate(r) / rate(ceil)).toFixed(2) : '-',
    us(r.clientCpu),
    us(r.sidecarCpu),
    us(r.natsCpu),
    us(r.clientCpu + r.sidecarCpu + r.natsCpu),
    r.kind === 'ceiling' ? '-' : `${Math.round((r.sidecarCpu / r.secs) * 100)}%`,
    pct(r.mainRun, r),
    pct(r.mainWait, r),
    Number.isNaN(r.idle) ? '-' : `${(r.idle / r.secs).toFixed(2)} cores`,
    r.note,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')
  process.stdout.write(
    `${N.toLocaleString('en-US')} records a run, each counted in JetStream; wall time from the first record sent to the last PubAck; ` +
      `CPU from each process's own counters (client: the SDK exporter, the NDJSON poster or nats.go)\n` +
      (STEADY
        ? `cold: the first ${N.toLocaleString('en-US')} records through a fresh sidecar and client (JIT warm-up included); ` +
          `steady: ${N.toLocaleString('en-US')} more through the same, warm processes, timed on their own; × NDJSON compares each with the NDJSON baseline of the same phase\n`
        : `cold runs only (BENCH_STEADY=0): the first ${N.toLocaleString('en-US')} records through a fresh sidecar and client, JIT warm-up included\n`),
  )
  process.stdout.write([line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n') + '\n')
  const json = {
    bench: 'otlp',
    n: N,
    baselineRecordsPerSec: Math.round(baseline),
    steadyBaselineRecordsPerSec: Number.isNaN(steadyBaseline) ? null : Math.round(steadyBaseline),
    ceilingRecordsPerSec: ceil ? Math.round(rate(ceil)) : null,
    ceilingSkipped: goSkipped ?? null,
    runs: rows.map((r) => ({
      name: r.name,
      kind: r.kind,
      phase: r.phase,
      note: r.note,
      recordsPerSec: Math.round(rate(r)),
      ratioToNdjson: r.kind === 'ceiling' ? null : Number(versus(r).toFixed(3)),
      ratioToCeiling: ceil ? Number((rate(r) / rate(ceil)).toFixed(3)) : null,
      cpuMicrosPerRecord: {
        client: Number(((r.clientCpu * 1e6) / N).toFixed(2)),
        sidecar: Number(((r.sidecarCpu * 1e6) / N).toFixed(2)),
        natsServer: Number(((r.natsCpu * 1e6) / N).toFixed(2)),
      },
      sidecarMainThread: Number.isNaN(r.mainRun) ? null : { running: Number((r.mainRun / r.secs).toFixed(3)), waitingForCpu: Number((r.mainWait / r.secs).toFixed(3)) },
      machineIdleCores: Number.isNaN(r.idle) ? null : Number((r.idle / r.secs).toFixed(3)),
      inJetStream: r.inJetStream,
    })),
  }
  process.stdout.write(JSON.stringify(json) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:otlp failed: ${(err as Error).stack}\n`)
  process.exitCode = 1
})
