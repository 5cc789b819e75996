/**
 * bench:otlp — OTLP logs through the sidecar into JetStream, with the OpenTelemetry JS SDK's
 * BatchLogRecordProcessor and protobuf exporter as the client, against the same records sent as
 * NDJSON to the sidecar's NDJSON door (the baseline), in the same run, on the same nats-server.
 *
 * Each run starts a fresh sidecar in its own process (bench/otlp-sidecar.ts: fsync batch, the
 * default manifest, so every record is validated and scrubbed) and times from the first record
 * sent to the last one acknowledged by JetStream; then it counts the records JetStream holds on
 * the sidecar's subject (stream info, not the sidecar's own counters) and fails if any is
 * missing (the SDK drops silently when its queue overflows: its queue holds them all here).
 *
 * Besides records/s (wall, which depends on what else runs on the machine) it prints the CPU
 * seconds each process spent in the run — the clients (this process), the sidecar and
 * nats-server — and the sidecar's records per CPU-second, which does not. A run whose sidecar
 * was busy much less than one core is limited by its client (or by nats-server), not the sidecar.
 *
 * The SDK's batch processor exports one batch at a time and waits for the answer: one processor
 * is a round trip per batch. The main OTLP run has BENCH_CLIENTS processors (one per service of
 * a host, each with its own exporter), as a sidecar in front of several programs sees.
 *
 *   npm run build && npm run bench:otlp
 *   BENCH_N (default 200,000) records per run; BENCH_CLIENTS (default 4); BENCH_BATCH (default
 *   2048) the main run's maxExportBatchSize; BENCH_EMIT_SLICE (default 1000) records emitted between
 *   two turns of the client's event loop; BENCH_PROF=<dir> writes the sidecar's --cpu-prof there.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { SeverityNumber } from '@opentelemetry/api'
import { startNatsServer } from '../infra/index.js'
import { ensureTopology, streamName, StreamName, Subjects } from '../streams/index.js'
import { procCpu } from './proc-cpu.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4)
const BATCH = Number(process.env.BENCH_BATCH ?? 2048)
const PROF = process.env.BENCH_PROF
/** Records emitted between two turns of the client's event loop. */
const EMIT_SLICE = Number(process.env.BENCH_EMIT_SLICE ?? 1000)
const TS = Date.now() - 3_600_000
const base = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-otlp-'))
const child = join(fileURLToPath(new URL('.', import.meta.url)), 'otlp-sidecar.js')
const FACTS = streamName({}, StreamName.Facts)
const subjects = new Subjects()

const message = (i: number) => `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`
const attrs = (i: number) => ({ user: `user${i % 500}`, route: '/login', status: String(200 + (i % 3)) })

interface Status {
  deliveredSeq: number
  stored: number
  accepted: number
  rejected: Record<string, number>
  cpuMicros: number
}

interface SidecarProc {
  readonly id: string
  readonly ndjsonPort: number
  readonly otlpPort: number
  status(): Promise<Status>
  close(): Promise<void>
}

let runNo = 0
async function startSidecar(url: string): Promise<SidecarProc> {
  const id = `bench-otlp-${++runNo}`
  const p: ChildProcess = fork(child, ['--url', url, '--id', id, '--wal', join(base, id, 'wal')], {
    execArgv: PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF, '--cpu-prof-name', `sidecar-${id}.cpuprofile`] : [],
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
      const onExit = (code: number | null) => reject(new Error(`the bench sidecar exited (code ${code}) before '${type}'`))
      p.on('message', onMsg)
      p.once('exit', onExit)
    })
  const ready = await next('ready')
  return {
    id,
    ndjsonPort: ready.ndjsonPort as number,
    otlpPort: ready.otlpPort as number,
    status: () => {
      const r = next('status')
      p.send({ type: 'status' })
      return r as unknown as Promise<Status>
    },
    close: async () => {
      const exited = new Promise((r) => p.once('exit', r))
      p.send({ type: 'close' })
      await exited
    },
  }
}

const clientCpu = () => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1e6
}

/** Records JetStream holds on a subject. */
async function storedIn(jsm: JetStreamManager, subject: string): Promise<number> {
  const info = await jsm.streams.info(FACTS, { subjects_filter: subject })
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0)
}

interface Row {
  name: string
  secs: number
  clientCpu: number
  sidecarCpu: number
  natsCpu: number
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

/** Runs one client against a fresh sidecar and measures it to the last PubAck. */
interface ClientRun {
  readonly note: string
  /** Stops the client once everything is in JetStream (outside the timing). */
  readonly stop?: () => Promise<void>
}

async function measure(ctx: { url: string; natsPid: number; jsm: JetStreamManager }, name: string, client: (sc: SidecarProc) => Promise<ClientRun>): Promise<void> {
  const sc = await startSidecar(ctx.url)
  let run: ClientRun | undefined
  try {
    const s0 = await sc.status()
    const n0 = procCpu(ctx.natsPid)
    const c0 = clientCpu()
    const t0 = performance.now()
    run = await client(sc)
    const note = run.note
    let last = s0
    await until(async () => (last = await sc.status()).deliveredSeq >= N, 1_800_000, `the sidecar's delivery of ${N} records`)
    const secs = (performance.now() - t0) / 1000
    const row: Row = { name, secs, clientCpu: clientCpu() - c0, sidecarCpu: (last.cpuMicros - s0.cpuMicros) / 1e6, natsCpu: procCpu(ctx.natsPid) - n0, inJetStream: 0, note }
    row.inJetStream = await storedIn(ctx.jsm, subjects.fact('event', sc.id))
    if (row.inJetStream !== N)
      throw new Error(
        `${name}: JetStream holds ${row.inJetStream} of ${N} records (sidecar: accepted ${last.accepted}, rejected ${JSON.stringify(last.rejected)}, stored ${last.stored})`,
      )
    rows.push(row)
    process.stderr.write(`  ${name}: ${Math.round(N / secs).toLocaleString('en-US')} records/s\n`)
  } finally {
    await run?.stop?.()
    await sc.close()
  }
}

async function ndjson(sc: SidecarProc, run: number): Promise<ClientRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const LINES = 1000
  const bodies: string[] = []
  for (let b = 0; b < N / LINES; b++) {
    let s = ''
    for (let j = 0; j < LINES; j++) {
      const i = b * LINES + j
      s +=
        JSON.stringify({
          lane: 'event',
          ts: TS + run * N + i,
          type: 'log',
          message: message(i),
          attrs: { 'service.name': 'bench', 'host.name': 'bench-host', ...attrs(i), severity: 'INFO' },
        }) + '\n'
    }
    bodies.push(s)
  }
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: sc.ndjsonPort,
          method: 'POST',
          path: '/facts',
          agent,
          headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume()
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < bodies.length) await post(bodies[next++])
    }),
  )
  agent.destroy()
  return { note: `${LINES} lines a request, 4 requests at once` }
}

async function otlp(sc: SidecarProc, run: number, clients: number, batch: number): Promise<ClientRun> {
  const providers = Array.from({ length: clients }, (_, c) => {
    const exporter = new OTLPLogExporter({ url: `http://127.0.0.1:${sc.otlpPort}/v1/logs`, timeoutMillis: 600_000 })
    return new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': clients > 1 ? `bench-${c}` : 'bench', 'host.name': 'bench-host' }),
      processors: [
        new BatchLogRecordProcessor({ exporter, maxExportBatchSize: batch, maxQueueSize: Math.ceil(N / clients), scheduledDelayMillis: 20, exportTimeoutMillis: 600_000 }),
      ],
    })
  })
  const loggers = providers.map((p) => p.getLogger('bench'))
  const t0 = performance.now()
  // As a program logs: in slices, the event loop free in between, so the processors export while
  // records are still being emitted (one synchronous loop would leave the sidecar idle until its end).
  for (let i = 0; i < N; i++) {
    loggers[i % clients].emit({ timestamp: TS + run * N + i, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: message(i), attributes: attrs(i) })
    if (i % EMIT_SLICE === EMIT_SLICE - 1) await new Promise((r) => setImmediate(r))
  }
  const emitted = (performance.now() - t0) / 1000
  // Each processor exports on its own (batch full, or every 20 ms), one batch at a time; the
  // caller waits for JetStream. A forceFlush here would bound the whole backlog by one export
  // timeout; shutdown() afterwards only stops the idle exporters.
  return {
    note: `${clients} processor${clients > 1 ? 's' : ''} × batches of ${batch}; emit loop ${emitted.toFixed(2)} s`,
    stop: async () => void (await Promise.all(providers.map((p) => p.shutdown()))),
  }
}

async function main(): Promise<void> {
  const server = await startNatsServer({ storeDir: join(base, 'nats') })
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1 })
  const jsm = await jetstreamManager(nc)
  const ctx = { url: server.url, natsPid: server.pid, jsm }
  try {
    await ensureTopology(nc, jsm, { subjects })
    await measure(ctx, 'NDJSON POST /facts → JetStream', (sc) => ndjson(sc, 1))
    await measure(ctx, 'OTLP/HTTP protobuf, SDK batch processor → JetStream', (sc) => otlp(sc, 2, CLIENTS, BATCH))
    await measure(ctx, 'OTLP/HTTP protobuf, SDK batch processor → JetStream', (sc) => otlp(sc, 3, 1, 512))
    await measure(ctx, 'NDJSON POST /facts → JetStream', (sc) => ndjson(sc, 4)) // the baseline again, after the JIT has seen everything
  } finally {
    await nc.close()
    await server.stop()
    rmSync(base, { recursive: true, force: true })
  }
  const baseline = Math.max(N / rows[0].secs, N / rows[3].secs)
  const head = ['run', 'records/s', '× NDJSON', 'sidecar rec/CPU-s', 'CPU s: clients', 'sidecar', 'nats-server', 'sidecar busy', 'note']
  const body = rows.map((r) => [
    r.name,
    Math.round(N / r.secs).toLocaleString('en-US'),
    (N / r.secs / baseline).toFixed(2),
    Math.round(N / r.sidecarCpu).toLocaleString('en-US'),
    r.clientCpu.toFixed(1),
    r.sidecarCpu.toFixed(1),
    r.natsCpu.toFixed(1),
    `${Math.round((r.sidecarCpu / r.secs) * 100)}%`,
    r.note,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')
  process.stdout.write(`${N.toLocaleString('en-US')} records a run, each counted in JetStream; wall time from the first record sent to the last PubAck\n`)
  process.stdout.write([line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n') + '\n')
  const json = {
    bench: 'otlp',
    n: N,
    baselineRecordsPerSec: Math.round(baseline),
    runs: rows.map((r) => ({
      name: r.name,
      note: r.note,
      recordsPerSec: Math.round(N / r.secs),
      ratioToNdjson: Number((N / r.secs / baseline).toFixed(3)),
      sidecarRecordsPerCpuSec: Math.round(N / r.sidecarCpu),
      cpuSec: { clients: Number(r.clientCpu.toFixed(2)), sidecar: Number(r.sidecarCpu.toFixed(2)), natsServer: Number(r.natsCpu.toFixed(2)) },
      inJetStream: r.inJetStream,
    })),
  }
  process.stdout.write(JSON.stringify(json) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:otlp failed: ${(err as Error).stack}\n`)
  process.exitCode = 1
})
