import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { connect, decideProposal, isClientError, listProposals, type Ben, type ConnectOptions } from '../client/index.js'
import { homePaths, silentLogger, VERSION, type Logger } from '../infra/index.js'
import { Keyring } from '../keys/index.js'
import { isReplayError } from '../replay/index.js'
import { packageRoot, type Hello, type Severity } from '../schemas/index.js'
import { ApiRefusal, checkSource, factById, fleet, jsonText, replay, series, type HelloSeen } from './api.js'
import { parseListen, urlHost, type ListenAddress } from './address.js'
import { ConsoleAuth, CSRF_HEADER } from './auth.js'
import { ConsoleError, ConsoleErrorCode } from './errors.js'
import { feed, parseFeedQuery, serveFeed } from './feed.js'

export interface ConsoleOptions {
  /** host:port; loopback unless `tls` or `insecure`. */
  readonly listen: string
  /** `cert.pem,key.pem`: serve HTTPS. */
  readonly tls?: string
  /** Allow plain HTTP on a non-loopback address. */
  readonly insecure?: boolean
  /** BEN_HOME: where the operator key lives. */
  readonly home: string
  /** The operator key (under $BEN_HOME/keys) approvals are signed with. Default `operator`. */
  readonly operatorKey?: string
  /** How to reach Ben (the running `ben up`). */
  readonly connect?: ConnectOptions
  readonly log?: Logger
  /** The login token; default random. */
  readonly token?: string
}

export interface ConsoleHandle {
  /** The console's base URL. */
  readonly url: string
  /** The URL that logs in (carries the token). */
  readonly loginUrl: string
  readonly token: string
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const MAX_BODY = 2 * 1024 * 1024
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' }

/** The browser modules, served from the installed npm packages (no build step). */
function vendorFiles(): Record<string, string> {
  const req = createRequire(join(packageRoot(), 'package.json'))
  const dir = (name: string) => {
    let d = dirname(req.resolve(name))
    while (!existsPkg(d, name)) {
      const up = dirname(d)
      if (up === d) throw new ConsoleError(ConsoleErrorCode.BadConfig, `cannot find the ${name} package (npm ci installs it)`)
      d = up
    }
    return d
  }
  const preact = dir('preact')
  const htm = dir('htm')
  const uplot = dir('uplot')
  return {
    'preact.js': join(preact, 'dist', 'preact.module.js'),
    'hooks.js': join(preact, 'hooks', 'dist', 'hooks.module.js'),
    'htm.js': join(htm, 'dist', 'htm.module.js'),
    'uplot.js': join(uplot, 'dist', 'uPlot.esm.js'),
    'uplot.css': join(uplot, 'dist', 'uPlot.min.css'),
  }
}

function existsPkg(d: string, name: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === name
  } catch {
    return false
  }
}

const IMPORT_MAP = JSON.stringify({ imports: { preact: '/vendor/preact.js', 'preact/hooks': '/vendor/hooks.js', htm: '/vendor/htm.js', uplot: '/vendor/uplot.js' } })
const IMPORT_MAP_HASH = createHash('sha256').update(IMPORT_MAP).digest('base64')

function page(body: string, withApp: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ben console</title><link rel="icon" href="/static/icon.svg"><link rel="stylesheet" href="/vendor/uplot.css"><link rel="stylesheet" href="/static/style.css">
${withApp ? `<script type="importmap">${IMPORT_MAP}</script><script type="module" src="/static/app.js"></script>` : ''}
</head><body>${body}</body></html>`
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function loginPage(message?: string): string {
  return page(
    `<main class="login"><h1>Ben console</h1>${message ? `<p role="alert" class="error">${esc(message)}</p>` : ''}
<form method="post" action="/login"><label for="token">Login token (printed by <code>ben up --console</code>)</label>
<input id="token" name="token" type="password" autocomplete="off" autofocus required><button type="submit">Log in</button></form></main>`,
    false,
  )
}

/** Checks the address and TLS options before anything starts (loopback unless TLS or --insecure-console). */
export function checkConsoleOptions(opts: Pick<ConsoleOptions, 'listen' | 'tls' | 'insecure'>): { addr: ListenAddress; tls?: { cert: Buffer; key: Buffer } } {
  const addr = parseListen(opts.listen)
  let tls: { cert: Buffer; key: Buffer } | undefined
  if (opts.tls) {
    const [cert, key] = opts.tls.split(',')
    if (!cert || !key) throw new ConsoleError(ConsoleErrorCode.BadConfig, `--console-tls takes cert.pem,key.pem, not '${opts.tls}'`)
    try {
      tls = { cert: readFileSync(cert), key: readFileSync(key) }
    } catch (err) {
      throw new ConsoleError(ConsoleErrorCode.BadConfig, `cannot read the console's TLS files: ${(err as Error).message}`)
    }
  }
  if (!addr.loopback && !tls && !opts.insecure) {
    throw new ConsoleError(
      ConsoleErrorCode.Exposed,
      `--console ${opts.listen} is not a loopback address: give --console-tls cert.pem,key.pem (or --insecure-console to serve plain HTTP anyway)`,
    )
  }
  return { addr, tls }
}

/**
 * Starts the console: an HTTP(S) server with token login, read-only JSON API, live feeds
 * (SSE) and the two mutations an operator needs (approve/reject, replay). Approvals are signed
 * here with the operator key under $BEN_HOME/keys; the key never goes to the browser.
 */
export async function startConsole(opts: ConsoleOptions): Promise<ConsoleHandle> {
  const { addr, tls } = checkConsoleOptions(opts)
  const log = opts.log ?? silentLogger()
  const keyName = opts.operatorKey ?? 'operator'
  const keyring = new Keyring(homePaths(opts.home).keys)
  const web = join(packageRoot(), 'console', 'web')
  const vendor = vendorFiles()
  const auth = new ConsoleAuth({ token: opts.token, secureCookie: Boolean(tls) })
  const ben: Ben = await connect({ home: opts.home, ...opts.connect })
  const counters = { dropped: 0, rejected: 0, logins: 0, failedLogins: 0, approvals: 0 }

  // Sidecars and Ben's own parts announce themselves on HELLO; keep the latest of each.
  const hellos = new Map<string, HelloSeen>()
  const helloSub = ben.subscribe(ben.subjects.helloAll, { deliver: 'all' }).subscribe({
    next: (d) => {
      if (!d.result.ok) return
      const h = d.result.value as Hello
      const k = `${h.component}/${h.instance}`
      const prev = hellos.get(k)
      if (!prev || prev.ts <= h.ts) hellos.set(k, { component: h.component, instance: h.instance, version: h.version, ts: h.ts, info: { ...h.info }, seenAt: d.time })
    },
    error: (err) => log.warn({ err: (err as Error).message }, 'console: hello feed stopped'),
  })

  let replaying = false
  const operator = () => {
    if (!keyring.has(keyName))
      return { error: `no operator key '${keyName}' under ${keyring.dir}: create it with \`ben keys generate --role operator --name ${keyName} --register\`` }
    const k = keyring.load(keyName)
    if (k.role !== 'operator') return { error: `key '${keyName}' is a ${k.role} key, not an operator key` }
    return { key: k }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://console')
    const path = url.pathname
    const method = req.method ?? 'GET'
    security(res)
    if (!hostOk(req)) return text(res, 421, 'unexpected Host header')
    const client = req.socket.remoteAddress ?? 'unknown'

    if (path === '/login') {
      if (method !== 'GET' && method !== 'POST') return text(res, 405, 'GET or POST')
      const token = method === 'GET' ? (url.searchParams.get('token') ?? undefined) : (new URLSearchParams(await body(req)).get('token') ?? undefined)
      if (method === 'GET' && token === undefined) return html(res, 200, loginPage())
      const r = auth.login(client, token)
      if (!r.ok) {
        counters.failedLogins++
        log.warn({ client, status: r.status }, 'console: login refused')
        if (r.retryAfterS) res.setHeader('retry-after', String(r.retryAfterS))
        return html(res, r.status, loginPage(r.message))
      }
      counters.logins++
      log.info({ client }, 'console: login')
      res.writeHead(303, { 'set-cookie': r.cookie, location: '/' })
      return void res.end()
    }
    if (path.startsWith('/static/')) return file(res, join(web, safeName(path.slice('/static/'.length))))
    if (path.startsWith('/vendor/')) {
      const f = vendor[path.slice('/vendor/'.length)]
      return f ? file(res, f) : text(res, 404, 'not found')
    }
    const session = auth.session(req)
    if (path === '/' || path === '/index.html') return html(res, 200, session ? page('<div id="app"><noscript>The console needs JavaScript.</noscript></div>', true) : loginPage())
    if (!path.startsWith('/api/') && path !== '/logout') return text(res, 404, 'not found')
    if (!session) return json(res, 401, { error: 'log in first (the URL `ben up --console` printed)' })
    if (method !== 'GET') {
      if (!auth.csrfOk(req, session)) return json(res, 403, { error: `missing or wrong ${CSRF_HEADER} header` })
      const origin = req.headers.origin
      if (origin && origin !== `${tls ? 'https' : 'http'}://${req.headers.host}`) return json(res, 403, { error: `cross-origin request from ${origin}` })
    }
    if (path === '/logout') {
      if (method !== 'POST') return text(res, 405, 'POST')
      res.writeHead(303, { 'set-cookie': auth.logout(req), location: '/' })
      return void res.end()
    }

    let m: RegExpExecArray | null
    try {
      if (path === '/api/session' && method === 'GET') {
        const op = operator()
        return json(res, 200, {
          csrf: session.csrf,
          version: VERSION,
          prefix: ben.subjects.prefix,
          operator: 'key' in op ? { name: keyName, keyId: op.key!.keyId } : { name: keyName, error: op.error },
        })
      }
      if (path === '/api/feed' && method === 'GET') {
        return serveFeed(
          req,
          res,
          feed(ben, parseFeedQuery(url.searchParams), () => counters.rejected++),
          counters,
        )
      }
      if (path === '/api/incidents' && method === 'GET') {
        const q = url.searchParams
        const rows = await ben.listIncidents({
          open: q.get('open') === '1' || undefined,
          severity: (q.get('severity') || undefined) as Severity | undefined,
          source: q.get('source') || undefined,
          since: q.get('since') ? Number(q.get('since')) : undefined,
          limit: 200,
        })
        return json(res, 200, rows)
      }
      if ((m = /^\/api\/incidents\/([A-Za-z0-9_:-]+)$/.exec(path)) && method === 'GET') {
        const r = await ben.incidentReport(m[1])
        return json(res, 200, { incident: r.incident, transitions: r.transitions, facts: r.facts, narrative: r.narrative, unreadable: r.unreadable })
      }
      if ((m = /^\/api\/incidents\/([A-Za-z0-9_:-]+)\/replay$/.exec(path)) && method === 'POST') {
        const b = parseJson(await body(req)) as { whatIf?: { name?: unknown; text?: unknown } }
        let whatIf: { name: string; text: string } | undefined
        if (b.whatIf !== undefined) {
          if (typeof b.whatIf?.text !== 'string' || !b.whatIf.text.trim())
            throw new ApiRefusal(400, 'what-if needs the text of a policy pack, detector config or redaction manifest')
          whatIf = { name: typeof b.whatIf.name === 'string' && b.whatIf.name ? b.whatIf.name : 'pasted.yaml', text: b.whatIf.text }
        }
        if (replaying) throw new ApiRefusal(409, 'a replay is already running; try again when it has finished')
        replaying = true
        try {
          log.info({ incident: m[1], whatIf: whatIf?.name }, 'console: replay')
          return json(res, 200, await replay(ben, opts.home, m[1], whatIf))
        } finally {
          replaying = false
        }
      }
      if ((m = /^\/api\/facts\/([A-Za-z0-9_:-]+)$/.exec(path)) && method === 'GET') return json(res, 200, await factById(ben, m[1]))
      if (path === '/api/fleet' && method === 'GET') return json(res, 200, await fleet(ben, hellos))
      if ((m = /^\/api\/sources\/([^/]+)$/.exec(path)) && method === 'GET') {
        const w = url.searchParams.get('window') ?? '30'
        const minutes = Number(w)
        if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60) throw new ApiRefusal(400, `window must be 1-10080 minutes, not '${w}'`)
        return json(res, 200, await series(ben, checkSource(decodeURIComponent(m[1])), minutes * 60_000))
      }
      if (path === '/api/approvals' && method === 'GET') return json(res, 200, await listProposals(ben))
      if ((m = /^\/api\/approvals\/([0-9a-f]{8,64})$/.exec(path)) && method === 'POST') {
        const b = parseJson(await body(req)) as { verdict?: unknown; reason?: unknown }
        if (b.verdict !== 'approve' && b.verdict !== 'reject') throw new ApiRefusal(400, `verdict must be 'approve' or 'reject'`)
        const reason = typeof b.reason === 'string' ? b.reason : ''
        const op = operator()
        if (!op.key) throw new ApiRefusal(409, op.error)
        const { proposal, fact } = await decideProposal(ben, m[1], op.key, b.verdict, reason)
        counters.approvals++
        log.info({ command: proposal.payload.commandId, verdict: b.verdict, keyId: op.key.keyId }, 'console: command decided')
        return json(res, 200, {
          verdict: b.verdict,
          commandId: proposal.payload.commandId,
          verb: proposal.payload.verb,
          target: proposal.payload.target,
          factId: fact.id,
          keyId: op.key.keyId,
        })
      }
      if (path === '/api/stats' && method === 'GET') return json(res, 200, counters)
      return json(res, method === 'GET' || method === 'POST' ? 404 : 405, { error: `no ${method} ${path}: the console's API reads, and only approves, rejects and replays` })
    } catch (err) {
      if (err instanceof ApiRefusal) return json(res, err.status, { error: err.message })
      if (isClientError(err))
        return json(res, err.code === 'not_found' ? 404 : err.code === 'already_decided' || err.code === 'refused' ? 409 : 400, { error: err.message, code: err.code })
      if (isReplayError(err)) return json(res, 400, { error: err.message, code: err.code })
      log.error({ err: (err as Error).message, path }, 'console: request failed')
      return json(res, 500, { error: (err as Error).message })
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => {
      log.error({ err: (err as Error).message }, 'console: request failed')
      if (!res.headersSent) json(res, 500, { error: 'internal error' })
      else res.end()
    })
  }
  const server: Server = tls ? createHttps({ cert: tls.cert, key: tls.key }, listener) : createHttp(listener)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new ConsoleError(ConsoleErrorCode.Listen, `console cannot listen on ${opts.listen}: ${err.message}`, { cause: err })))
    server.listen(addr.port, addr.host, () => resolve())
  }).catch(async (err) => {
    helloSub.unsubscribe()
    await ben.close()
    throw err
  })
  const port = (server.address() as AddressInfo).port
  const base = `${tls ? 'https' : 'http'}://${urlHost(addr.host)}:${port}`
  const allowedHosts = new Set([`${urlHost(addr.host)}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`])
  const hostOk = (req: IncomingMessage) => !addr.loopback || allowedHosts.has(req.headers.host ?? '')

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      helloSub.unsubscribe()
      server.closeAllConnections?.()
      await new Promise<void>((r) => server.close(() => r()))
      await ben.close()
    })())
  return { url: base, loginUrl: `${base}/login?token=${encodeURIComponent(auth.token)}`, token: auth.token, close, [Symbol.asyncDispose]: close }
}

function security(res: ServerResponse): void {
  res.setHeader(
    'content-security-policy',
    `default-src 'self'; script-src 'self' 'sha256-${IMPORT_MAP_HASH}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
  )
  res.setHeader('x-content-type-options', 'nosniff')
  res.setHeader('referrer-policy', 'no-referrer')
  res.setHeader('x-frame-options', 'DENY')
  res.setHeader('cache-control', 'no-store')
}

function safeName(name: string): string {
  return /^[a-z0-9-]+\.(js|css|svg)$/.test(name) ? name : '__none__'
}

function file(res: ServerResponse, path: string): void {
  let data: Buffer
  try {
    data = readFileSync(path)
  } catch {
    return text(res, 404, 'not found')
  }
  res.writeHead(200, { 'content-type': TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream' })
  res.end(data)
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(body + '\n')
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
  res.end(body)
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(jsonText(value))
}

function parseJson(s: string): Record<string, unknown> {
  if (!s.trim()) return {}
  try {
    const v = JSON.parse(s)
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // fall through
  }
  throw new ApiRefusal(400, 'the request body must be a JSON object')
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let n = 0
    req.on('data', (c: Buffer) => {
      n += c.length
      if (n > MAX_BODY) {
        reject(new ApiRefusal(413, `request body over ${MAX_BODY} bytes`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
