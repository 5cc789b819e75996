import { createServer } from 'node:http'
import { collectDefaultMetrics, type Registry } from 'prom-client'
import type { HostPort } from '../intake/index.js'
import { TelemetryError, TelemetryErrorCode } from './errors.js'

export interface MetricsServer {
  /** `http://host:port` (the bound port when 0 was asked). */
  readonly address: string
  readonly port: number
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const defaultsOn = new WeakSet<Registry>()

/**
 * Serves `GET /metrics` (Prometheus text exposition, from the given registry, with the
 * process metrics of prom-client: CPU, memory, event-loop lag, GC) and `GET /healthz`.
 * Scrapes are read-only and never touch the data path.
 */
export async function serveMetrics(at: HostPort, registry: Registry, opts: { processMetrics?: boolean } = {}): Promise<MetricsServer> {
  if (opts.processMetrics !== false && !defaultsOn.has(registry)) {
    defaultsOn.add(registry)
    collectDefaultMetrics({ register: registry })
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' }).end(`${req.method} is not supported: GET /metrics\n`)
      return
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n')
      return
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`no ${path} here: GET /metrics\n`)
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`cannot collect metrics: ${err.message}\n`),
    )
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new TelemetryError(TelemetryErrorCode.Listen, `cannot serve metrics on ${at.host}:${at.port}: ${err.message}`, { cause: err })))
    server.listen(at.port, at.host, () => resolve())
  })
  const a = server.address()
  const port = a && typeof a === 'object' ? a.port : at.port
  const host = at.host.includes(':') ? `[${at.host}]` : at.host
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }))
  return { address: `http://${host}:${port}`, port, close, [Symbol.asyncDispose]: close }
}
