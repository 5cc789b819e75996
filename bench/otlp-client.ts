/**
 * The client of bench:otlp, in its own process (its CPU apart from the bench's and the
 * sidecar's; on 2 cores an exporter sharing the bench's event loop would also share its
 * stalls). One process per measured sidecar (a cold run, then the steady run, in the same
 * process), told over the IPC channel what to send:
 *
 *   → { type: 'ready' }
 *   ← { type: 'cpu' }                                     → { type: 'cpu', micros }
 *   ← { type: 'ndjson', port, run, n }                    → { type: 'sent', note } once every POST is answered
 *   ← { type: 'otlp', port, run, n, clients, batch, slice } → { type: 'sent', note } once every record is emitted
 *   ← { type: 'stop' }                                    → { type: 'stopped' }, then exits
 *
 * NDJSON: 1,000 lines a request, 4 requests at once. OTLP: the OpenTelemetry JS SDK's
 * LoggerProvider, BatchLogRecordProcessor and protobuf OTLPLogExporter, `clients` providers (one
 * per service of a host, each with its own exporter), records emitted in slices of `slice`
 * with the event loop free in between, as a program logs.
 */
import { Agent, request } from 'node:http'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import { SeverityNumber } from '@opentelemetry/api-logs'

type Ask =
  | { type: 'cpu' }
  | { type: 'ndjson'; port: number; run: number; n: number }
  | { type: 'otlp'; port: number; run: number; n: number; clients: number; batch: number; slice: number }
  | { type: 'stop' }

const TS = Date.now() - 3_600_000
const message = (i: number) => `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`
const attrs = (i: number) => ({ user: `user${i % 500}`, route: '/login', status: String(200 + (i % 3)) })

/** The providers of every OTLP run of this process (a process may be asked for more than one run). */
const running: LoggerProvider[] = []

async function ndjson(port: number, run: number, n: number): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const LINES = 1000
  const bodies: string[] = []
  for (let b = 0; b < n / LINES; b++) {
    let s = ''
    for (let j = 0; j < LINES; j++) {
      const i = b * LINES + j
      s +=
        JSON.stringify({
          lane: 'event',
          ts: TS + run * n + i,
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
        { host: '127.0.0.1', port, method: 'POST', path: '/facts', agent, headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': Buffer.byteLength(body) } },
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
  return `${LINES} lines a request, 4 requests at once`
}

async function otlp(a: Extract<Ask, { type: 'otlp' }>): Promise<string> {
  const providers = Array.from({ length: a.clients }, (_, c) => {
    const exporter = new OTLPLogExporter({ url: `http://127.0.0.1:${a.port}/v1/logs`, timeoutMillis: 600_000 })
    return new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': a.clients > 1 ? `bench-${c}` : 'bench', 'host.name': 'bench-host' }),
      processors: [
        new BatchLogRecordProcessor({ exporter, maxExportBatchSize: a.batch, maxQueueSize: Math.ceil(a.n / a.clients), scheduledDelayMillis: 20, exportTimeoutMillis: 600_000 }),
      ],
    })
  })
  const loggers = providers.map((p) => p.getLogger('bench'))
  const t0 = performance.now()
  // In slices, the event loop free in between, so the processors export while records are still
  // being emitted (one synchronous loop would leave the sidecar idle until its end).
  for (let i = 0; i < a.n; i++) {
    loggers[i % a.clients].emit({ timestamp: TS + a.run * a.n + i, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: message(i), attributes: attrs(i) })
    if (i % a.slice === a.slice - 1) await new Promise((r) => setImmediate(r))
  }
  const emitted = (performance.now() - t0) / 1000
  // Each processor exports on its own (batch full, or every 20 ms), one batch at a time; the
  // bench waits for JetStream. A forceFlush here would bound the whole backlog by one export
  // timeout; shutdown() afterwards only stops the idle exporters.
  running.push(...providers)
  return `${a.clients} processor${a.clients > 1 ? 's' : ''} × batches of ${a.batch}; emit loop ${emitted.toFixed(2)} s`
}

const send = (m: object) => process.send!(m)

process.on('message', (m: Ask) => {
  const fail = (err: Error) => {
    process.stderr.write(`otlp-client failed: ${err.stack}\n`)
    process.exit(1)
  }
  if (m.type === 'cpu') {
    const c = process.cpuUsage()
    send({ type: 'cpu', micros: c.user + c.system })
  } else if (m.type === 'ndjson') ndjson(m.port, m.run, m.n).then((note) => send({ type: 'sent', note }), fail)
  else if (m.type === 'otlp') otlp(m).then((note) => send({ type: 'sent', note }), fail)
  else if (m.type === 'stop')
    void Promise.all(running.map((p) => p.shutdown())).then(() => {
      send({ type: 'stopped' })
      process.exit(0)
    }, fail)
})
send({ type: 'ready' })
