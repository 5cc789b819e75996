import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { DropReason, IntakeError, IntakeErrorCode } from '../errors.js'
import { formatListen, type ListenAddress } from '../listen.js'

/** One refused line: its 1-based number, a reason code and what was wrong (the sidecar's `AcceptRejection`). */
export interface LineRejection {
  readonly index: number
  readonly reason: string
  readonly message: string
}

/** What the NDJSON door hands lines to: the sidecar (validate, scrub, WAL) and its status. */
export interface NdjsonTarget {
  acceptLines(lines: readonly string[], firstLine?: number): Promise<{ readonly accepted: number; readonly rejected: readonly LineRejection[] }>
  /** Served as JSON on GET /status. */
  status(): object
}

export interface NdjsonOptions {
  /** Lines handed to the sidecar at once. Default 1000. */
  readonly batchLines?: number
  /** Longest NDJSON line in bytes (UTF-16 units). Default 1 MiB. */
  readonly maxLineBytes?: number
  /** Most rejections listed in one answer (the counts are always complete). Default 1000. */
  readonly maxListed?: number
  /** Extra fields for GET /status (e.g. the listen address). */
  readonly statusExtra?: () => Record<string, unknown>
}

export interface NdjsonServer {
  /** `unix:/path` or `http://127.0.0.1:port` (the bound port when 0 was asked). */
  readonly address: string
  close(): Promise<void>
}

/** What POST /facts answers. */
export interface FactsAnswer {
  accepted: number
  rejected: number
  /** Line numbers (1-based) with the reason; at most maxListed. */
  rejections: Array<{ line: number; reason: string; message: string }>
  truncated: boolean
  error?: { code: string; message: string }
}

/**
 * The sidecar's NDJSON door, for programs in other languages: HTTP on a Unix socket or a
 * loopback port (the sidecar's daemon wires it to its `--listen`). `POST /facts` takes NDJSON in the edge shape and answers once every accepted line is
 * durable: `{accepted, rejected, rejections: [{line, reason, message}], truncated}`; 200, or
 * 503 (with Retry-After) when the WAL was full and some lines were refused `wal_full` (send
 * those again). `GET /status` is the sidecar's status, `GET /healthz` says ok.
 */
export async function serveNdjson(sidecar: NdjsonTarget, at: ListenAddress, opts: NdjsonOptions = {}): Promise<NdjsonServer> {
  const batchLines = opts.batchLines ?? 1000
  const maxLine = opts.maxLineBytes ?? 1 << 20
  const maxListed = opts.maxListed ?? 1000
  const server = createServer((req, res) => {
    void route(req, res).catch((err) => {
      if (!res.headersSent) reply(res, 500, { error: { code: 'internal', message: (err as Error).message } })
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 5000

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/facts' && req.method === 'POST') return postFacts(req, res)
    if (path === '/status' && req.method === 'GET') return reply(res, 200, { ...sidecar.status(), ...(opts.statusExtra?.() ?? {}) })
    if (path === '/healthz' && req.method === 'GET') return reply(res, 200, { ok: true })
    if (path === '/facts' || path === '/status' || path === '/healthz')
      return reply(res, 405, { error: { code: 'method_not_allowed', message: `${req.method} ${path} is not supported` } })
    reply(res, 404, { error: { code: 'not_found', message: `no ${path} here: POST /facts (NDJSON), GET /status, GET /healthz` } })
  }

  async function postFacts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer: FactsAnswer = { accepted: 0, rejected: 0, rejections: [], truncated: false }
    const note = (r: LineRejection) => {
      answer.rejected++
      if (answer.rejections.length < maxListed) answer.rejections.push({ line: r.index, reason: r.reason, message: r.message })
      else answer.truncated = true
    }
    let batch: string[] = []
    let batchStart = 1
    let lineNo = 0
    const flush = async () => {
      if (batch.length === 0) return
      const lines = batch
      batch = []
      const r = await sidecar.acceptLines(lines, batchStart)
      answer.accepted += r.accepted
      for (const x of r.rejected) note(x)
    }
    const push = async (line: string) => {
      if (line.length > maxLine) return tooLong()
      lineNo++
      if (batch.length === 0) batchStart = lineNo
      batch.push(line)
      if (batch.length >= batchLines) await flush()
    }
    const tooLong = async () => {
      await flush()
      lineNo++
      note({ index: lineNo, reason: DropReason.LineTooLong, message: `line is longer than ${maxLine} characters; split it or raise the limit` })
    }
    try {
      const decoder = new StringDecoder('utf8')
      let carry = ''
      let skipping = false
      const consume = async (text: string) => {
        let start = 0
        for (;;) {
          const nl = text.indexOf('\n', start)
          if (nl < 0) break
          if (skipping) skipping = false
          else await push(text.charCodeAt(nl - 1) === 13 && nl > start ? text.slice(start, nl - 1) : text.slice(start, nl))
          start = nl + 1
        }
        carry = skipping ? '' : text.slice(start)
        if (carry.length > maxLine) {
          await tooLong()
          carry = ''
          skipping = true
        }
      }
      for await (const chunk of req) await consume(carry + decoder.write(chunk as Buffer))
      const rest = carry + decoder.end()
      if (!skipping && rest.length > 0) await push(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
      await flush()
    } catch (err) {
      const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'internal'
      answer.error = { code, message: `${(err as Error).message}; lines after ${lineNo - batch.length} were not accepted` }
      res.setHeader('Connection', 'close')
      reply(res, 503, answer)
      return
    }
    const full = answer.rejections.some((r) => r.reason === DropReason.WalFull)
    if (full) res.setHeader('Retry-After', '1')
    reply(res, full ? 503 : 200, answer)
  }

  await bind(server, at)
  let address = formatListen(at)
  if (at.kind === 'tcp') {
    const a = server.address()
    if (a && typeof a === 'object') address = formatListen({ kind: 'tcp', host: at.host, port: a.port })
  }
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        if (at.kind === 'unix') rmSync(at.path, { force: true })
      }),
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

async function bind(server: Server, at: ListenAddress): Promise<void> {
  if (at.kind === 'unix') {
    mkdirSync(dirname(at.path), { recursive: true })
    if (await socketAnswers(at.path))
      throw new IntakeError(IntakeErrorCode.Listen, `${at.path}: another process is listening there (another sidecar?); stop it or choose another --listen`)
    rmSync(at.path, { force: true }) // a stale socket file left by a killed process
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new IntakeError(IntakeErrorCode.Listen, `cannot listen on ${formatListen(at)}: ${err.message}`, { cause: err }))
    server.once('error', onError)
    const done = () => {
      server.off('error', onError)
      resolve()
    }
    if (at.kind === 'unix') server.listen(at.path, done)
    else server.listen(at.port, at.host, done)
  })
  if (at.kind === 'unix') chmodSync(at.path, 0o660)
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
