/**
 * bench:otlp — OTLP logs through the sidecar into JetStream, with the OpenTelemetry JS SDK's
 * batch processor and protobuf exporter as the client, against the same records sent as NDJSON
 * to the sidecar's own intake (the baseline), in the same run, on the same nats-server.
 *
 * Each run: a fresh sidecar (fsync batch, default manifest: every record is validated and
 * scrubbed) behind its door on a loopback port; time from the first record sent to the last
 * one acknowledged by JetStream (the sidecar's delivered sequence). Every run checks that all
 * N records arrived (the SDK drops silently when its queue overflows: its queue holds N here).
 *
 *   npm run build && npm run bench:otlp        BENCH_N (default 200,000) records per run
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { SeverityNumber } from '@opentelemetry/api'
import { startNatsServer } from '../infra/index.js'
import { ensureTopology, Subjects } from '../streams/index.js'
import { generateKeyPair } from '../processors/act/index.js'
import { defaultManifest } from '../processors/scrub/index.js'
import { createSidecar, parseListen, serveIntake, type Sidecar } from '../sidecar/index.js'
import { serveOtlp, sidecarSink } from '../intake/index.js'
import type { NatsConnection } from '@nats-io/nats-core'

const N = Number(process.env.BENCH_N ?? 200_000)
const TS = 1_763_700_000_000
const base = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-otlp-'))
const manifest = defaultManifest({ hashKey: 'bench-hash-key-0123456789' })

const message = (i: number) => `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`
const attrs = (i: number) => ({ user: `user${i % 500}`, route: '/login', status: String(200 + (i % 3)) })

interface Row {
  name: string
  secs: number
  note: string
}
const rows: Row[] = []

let runNo = 0
async function sidecar(nc: NatsConnection): Promise<Sidecar> {
  const id = `bench-otlp-${++runNo}`
  const sc = await createSidecar({ id, nats: nc, walDir: join(base, id, 'wal'), keyPair: generateKeyPair('sidecar'), manifest, registerKey: false })
  await sc.online
  return sc
}

const until = async (what: () => boolean): Promise<void> => {
  // polls an observable condition; every caller bounds it
  while (!what()) await new Promise((r) => setTimeout(r, 5))
}

async function ndjson(nc: NatsConnection, run: number): Promise<void> {
  const sc = await sidecar(nc)
  const server = await serveIntake(sc, parseListen('127.0.0.1:0'))
  const port = Number(server.address.split(':').pop())
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const BATCH = 1000
  const bodies: string[] = []
  for (let b = 0; b < N / BATCH; b++) {
    let s = ''
    for (let j = 0; j < BATCH; j++) {
      const i = b * BATCH + j
      s += JSON.stringify({ lane: 'event', ts: TS + run * N + i, type: 'log', message: message(i), attrs: { ...attrs(i), severity: 'INFO' } }) + '\n'
    }
    bodies.push(s)
  }
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/facts', agent, headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))))
      })
      req.on('error', reject)
      req.end(body)
    })
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < bodies.length) await post(bodies[next++])
  }))
  await until(() => sc.status().drain.deliveredSeq >= N || performance.now() - t0 > 600_000)
  const secs = (performance.now() - t0) / 1000
  const s = sc.status()
  if (s.drain.stored !== N) throw new Error(`NDJSON run lost records: ${s.drain.stored} of ${N} stored`)
  rows.push({ name: 'NDJSON POST /facts (1000 lines a request, 4 at once) → JetStream', secs, note: `stored ${s.drain.stored}, rejected ${Object.values(s.intake.rejected).reduce((a, b) => a + b, 0)}` })
  agent.destroy()
  await server.close()
  await sc.close()
}

async function otlp(nc: NatsConnection, run: number, batch: number): Promise<void> {
  const sc = await sidecar(nc)
  const door = await serveOtlp(sidecarSink(sc), { host: '127.0.0.1', port: 0 })
  const exporter = new OTLPLogExporter({ url: `http://127.0.0.1:${door.port}/v1/logs` })
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench', 'host.name': 'bench-host' }), processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: batch, maxQueueSize: N, scheduledDelayMillis: 20, exportTimeoutMillis: 600_000 })] })
  const logger = provider.getLogger('bench')
  const t0 = performance.now()
  for (let i = 0; i < N; i++) logger.emit({ timestamp: TS + run * N + i, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: message(i), attributes: attrs(i) })
  const emitted = (performance.now() - t0) / 1000
  // the processor exports on its own (batch full, or every 20 ms); a forceFlush would bound the whole backlog by one export timeout
  await until(() => sc.status().drain.deliveredSeq >= N || performance.now() - t0 > 600_000)
  const secs = (performance.now() - t0) / 1000
  const s = sc.status()
  if (s.drain.stored !== N) throw new Error(`OTLP run lost records: ${s.drain.stored} of ${N} stored`)
  rows.push({ name: `OTLP/HTTP protobuf, SDK BatchLogRecordProcessor (batches of ${batch}) → JetStream`, secs, note: `stored ${s.drain.stored}; emit loop ${emitted.toFixed(2)} s` })
  await provider.shutdown()
  await door.close()
  await sc.close()
}

async function main(): Promise<void> {
  const server = await startNatsServer({ storeDir: join(base, 'nats') })
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1 })
  try {
    await ensureTopology(nc, await jetstreamManager(nc), { subjects: new Subjects() })
    await ndjson(nc, 1)
    await otlp(nc, 2, 512)
    await otlp(nc, 3, 2048)
    await ndjson(nc, 4) // the baseline again, after the JIT has seen everything
  } finally {
    await nc.close()
    await server.stop()
    rmSync(base, { recursive: true, force: true })
  }
  const head = ['run', 'records', 'seconds', 'records/s', 'note']
  const body = rows.map((r) => [r.name, N.toLocaleString('en-US'), r.secs.toFixed(2), Math.round(N / r.secs).toLocaleString('en-US'), r.note])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')
  process.stdout.write([line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n') + '\n')
  process.stdout.write(JSON.stringify({ bench: 'otlp', n: N, runs: rows.map((r) => ({ name: r.name, recordsPerSec: Math.round(N / r.secs) })) }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:otlp failed: ${(err as Error).stack}\n`)
  process.exitCode = 1
})
