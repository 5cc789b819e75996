import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Type } from 'protobufjs'
import { discard, drain, readBody } from '../body.js'
import { countOutcome, countRefusal, lanesOf } from '../count.js'
import { DropReason } from '../errors.js'
import { formatHostPort, listenOn, type HostPort } from '../listen.js'
import type { IntakeSink } from '../sink.js'
import { mapLogs, mapMetrics, type Mapped } from './map.js'
import { mapLogsProto } from './logs-wire.js'
import { otlpMapping, type OtlpMapping } from './mapping.js'
import { OtlpTypes } from './proto.js'

export interface OtlpOptions {
  readonly mapping?: Partial<OtlpMapping>
  /** Largest request body on the wire. Default 8 MiB. */
  readonly maxBodyBytes?: number
  /** Largest body once decompressed. Default 64 MiB. */
  readonly maxDecodedBytes?: number
  /** Open connections at most; more are closed and counted. Default 256. */
  readonly maxConnections?: number
  /** Facts handed to the sink at once. Default 2048. */
  readonly batch?: number
  readonly now?: () => number
}

export interface Door {
  readonly name: string
  /** `host:port` as bound (the real port when 0 was asked). */
  readonly address: string
  readonly port: number
  close(): Promise<void>
}

const DOOR = 'otlp'
const GRPC = { InvalidArgument: 3, ResourceExhausted: 8, Unavailable: 14, Unimplemented: 12 } as const

interface Signal {
  readonly request: Type
  readonly response: Type
  readonly rejectedField: 'rejectedLogRecords' | 'rejectedDataPoints'
  readonly noun: string
  map(req: unknown, m: OtlpMapping, source: string | undefined, now: number): Mapped
  /** Protobuf bytes → facts in one pass (no decoded objects); the same answer as map(request.decode(bytes)). */
  mapProto?(bytes: Uint8Array, m: OtlpMapping, source: string | undefined, now: number): Mapped
}
const SIGNALS: Record<string, Signal> = {
  '/v1/logs': {
    request: OtlpTypes.LogsRequest,
    response: OtlpTypes.LogsResponse,
    rejectedField: 'rejectedLogRecords',
    noun: 'log records',
    map: (r, m, s, n) => mapLogs(r as never, m, s, n),
    mapProto: mapLogsProto,
  },
  '/v1/metrics': {
    request: OtlpTypes.MetricsRequest,
    response: OtlpTypes.MetricsResponse,
    rejectedField: 'rejectedDataPoints',
    noun: 'data points',
    map: (r, m, s, n) => mapMetrics(r as never, m, s, n),
  },
}

/**
 * OTLP/HTTP intake (logs and metrics; protobuf or JSON; gzip or deflate or none), per the
 * OTLP specification: `POST /v1/logs`, `POST /v1/metrics`. A request is answered once every
 * accepted record is durable. Records that cannot become facts are named in a partial-success
 * answer (200); a request that is not OTLP gets 400, a wrong content type 415, an oversized
 * one 413; when the sink cannot take records for a reason that passes (WAL full, JetStream
 * down) the answer is 503 with Retry-After, and the client's retry is de-duplicated (content
 * ids). Every refusal is counted in `ben_intake_dropped_total{door="otlp"}`.
 */
export async function serveOtlp(sink: IntakeSink, at: HostPort, opts: OtlpOptions = {}): Promise<Door> {
  const mapping = otlpMapping(opts.mapping)
  const maxBody = opts.maxBodyBytes ?? 8 << 20
  const maxDecoded = opts.maxDecodedBytes ?? 64 << 20
  const batch = opts.batch ?? 2048
  // What is read and thrown away of a refused body before the connection is closed instead.
  const drainLimit = Math.max(4 * maxBody, 8 << 20)
  const now = opts.now ?? Date.now
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      countRefusal(DOOR, DropReason.Other)
      if (!res.headersSent) status(res, false, 500, GRPC.Unavailable, `internal error: ${err.message}`)
      else res.destroy()
    })
  })
  server.maxConnections = opts.maxConnections ?? 256
  server.on('drop', () => countRefusal(DOOR, DropReason.TooManyConnections))
  server.keepAliveTimeout = 5000
  server.headersTimeout = 30_000
  server.requestTimeout = 60_000

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const signal = SIGNALS[path]
    const json = /^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))
    if (!signal) {
      discard(req)
      return status(res, json, 404, GRPC.Unimplemented, `no ${path} here: POST /v1/logs or /v1/metrics (traces are not taken)`)
    }
    if (req.method !== 'POST') {
      discard(req)
      res.setHeader('Allow', 'POST')
      return status(res, json, 405, GRPC.Unimplemented, `${req.method} ${path}: use POST`)
    }
    const ctype = String(req.headers['content-type'] ?? '')
    const proto = /^application\/x-protobuf\b/i.test(ctype)
    if (!json && !proto) {
      discard(req)
      countRefusal(DOOR, DropReason.UnsupportedMedia)
      return status(res, false, 415, GRPC.InvalidArgument, `Content-Type '${ctype}' is not OTLP: send application/x-protobuf or application/json`)
    }
    const body = await readBody(req, maxBody, maxDecoded)
    if (!body.ok) {
      countRefusal(DOOR, body.reason)
      // The client may still be sending: read what is left (bounded) before answering.
      if (!(await drain(req, drainLimit))) res.setHeader('Connection', 'close')
      return status(res, json, body.status, GRPC.InvalidArgument, body.message)
    }
    let decoded: unknown
    let mapped: Mapped | undefined
    try {
      if (json) {
        decoded = JSON.parse(body.body.toString('utf8'))
        if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) throw new Error('the body is not a JSON object')
      } else if (signal.mapProto) mapped = signal.mapProto(body.body, mapping, sink.source, now())
      else decoded = signal.request.decode(body.body)
    } catch (err) {
      countRefusal(DOOR, DropReason.Malformed)
      return status(res, json, 400, GRPC.InvalidArgument, `not an OTLP ${json ? 'JSON' : 'protobuf'} ${path.slice(4)} request: ${(err as Error).message}`)
    }
    try {
      mapped ??= signal.map(decoded, mapping, sink.source, now())
    } catch (err) {
      // JSON that parses but is not shaped like OTLP (e.g. `"resourceLogs": 5`)
      countRefusal(DOOR, DropReason.Malformed)
      return status(res, json, 400, GRPC.InvalidArgument, `not an OTLP ${path.slice(4)} request: ${(err as Error).message}`)
    }
    const rejected = new Map<number, string>()
    for (const d of mapped.dropped) rejected.set(d.record, `${d.reason}: ${d.message}`)
    let retryable = false
    // The records are let go once the sink has read them (it reads its inputs before accept
    // returns), not held until the WAL's fsync answers: held, a request's records outlived the
    // young generation's collections and were copied and promoted, the sidecar's largest GC cost.
    const facts = mapped.facts as unknown[]
    const total = facts.length
    for (let from = 0; from < total; from += batch) {
      const chunk = total <= batch ? facts : facts.slice(from, from + batch)
      const lanes = lanesOf(chunk)
      const accepting = sink.accept(chunk)
      chunk.length = 0
      facts.fill(undefined, from, from + batch)
      const r = await accepting
      countOutcome(DOOR, 0, lanes, r)
      if (r.retryable) retryable = true
      for (const x of r.rejected) {
        const record = mapped.origin[from + x.index]
        if (!rejected.has(record)) rejected.set(record, `${x.reason}: ${x.message}`)
      }
    }
    countOutcome(DOOR, mapped.records, [], undefined, mapped.dropped)
    if (retryable) {
      res.setHeader('Retry-After', '1')
      return status(
        res,
        json,
        503,
        GRPC.Unavailable,
        `${rejected.size} of ${mapped.records} ${signal.noun} could not be stored now (the WAL is full or JetStream does not answer); send the request again`,
      )
    }
    const answer: Record<string, unknown> = {}
    if (rejected.size > 0) {
      const first = [...rejected.entries()].slice(0, 5).map(([i, why]) => `#${i}: ${why}`)
      answer.partialSuccess = {
        [signal.rejectedField]: rejected.size,
        errorMessage: `${rejected.size} of ${mapped.records} ${signal.noun} rejected; ${first.join('; ')}${rejected.size > 5 ? '; …' : ''}`,
      }
    }
    send(res, json, 200, signal.response, answer)
  }

  const port = await listenOn(server, at, 'OTLP')
  let closing: Promise<void> | undefined
  return {
    name: DOOR,
    address: formatHostPort(at.host, port),
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })),
  }
}

function send(res: ServerResponse, json: boolean, code: number, type: Type, body: Record<string, unknown>): void {
  const data = json ? Buffer.from(JSON.stringify(body)) : Buffer.from(type.encode(type.fromObject(body)).finish())
  res.writeHead(code, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf', 'Content-Length': data.length })
  res.end(data)
}

function status(res: ServerResponse, json: boolean, http: number, code: number, message: string): void {
  send(res, json, http, OtlpTypes.Status, { code, message })
}
