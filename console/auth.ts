import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const SESSION_COOKIE = 'ben_session'
export const CSRF_HEADER = 'x-csrf-token'

export interface Session {
  readonly id: string
  readonly csrf: string
  readonly createdAt: number
}

export interface AuthOptions {
  /** The login token (printed in the banner). Default: 32 random bytes. */
  readonly token?: string
  /** Failed login attempts allowed per client address per window. Default 10. */
  readonly maxFailures?: number
  readonly failureWindowMs?: number
  readonly sessionTtlMs?: number
  readonly secureCookie?: boolean
  readonly now?: () => number
}

export type LoginResult = { ok: true; session: Session; cookie: string } | { ok: false; status: 401 | 429; retryAfterS?: number; message: string }

const b64url = (n: number) => randomBytes(n).toString('base64url')

/**
 * Token login with a session cookie (HttpOnly, SameSite=Strict), a CSRF token per session
 * checked on every mutating request, and failed logins rate-limited per client address.
 */
export class ConsoleAuth {
  readonly token: string
  private readonly sessions = new Map<string, Session>()
  private readonly failures = new Map<string, number[]>()
  private readonly maxFailures: number
  private readonly windowMs: number
  private readonly ttlMs: number
  private readonly secure: boolean
  private readonly now: () => number

  constructor(opts: AuthOptions = {}) {
    this.token = opts.token ?? b64url(32)
    this.maxFailures = opts.maxFailures ?? 10
    this.windowMs = opts.failureWindowMs ?? 60_000
    this.ttlMs = opts.sessionTtlMs ?? 12 * 3600_000
    this.secure = opts.secureCookie ?? false
    this.now = opts.now ?? Date.now
  }

  /** Checks a login token from `client` (its address); counts failures; opens a session. */
  login(client: string, token: string | undefined): LoginResult {
    const t = this.now()
    const recent = (this.failures.get(client) ?? []).filter((x) => t - x < this.windowMs)
    if (recent.length >= this.maxFailures) {
      this.failures.set(client, recent)
      return { ok: false, status: 429, retryAfterS: Math.ceil((recent[0] + this.windowMs - t) / 1000), message: `too many failed logins from ${client}: try again later` }
    }
    if (!token || !equal(token, this.token)) {
      recent.push(t)
      this.failures.set(client, recent)
      return { ok: false, status: 401, message: 'wrong or missing token: use the URL `ben up --console` printed' }
    }
    this.failures.delete(client)
    const session: Session = { id: b64url(32), csrf: b64url(24), createdAt: t }
    this.sessions.set(session.id, session)
    return { ok: true, session, cookie: this.cookie(session.id, this.ttlMs / 1000) }
  }

  logout(req: IncomingMessage): string {
    const s = this.session(req)
    if (s) this.sessions.delete(s.id)
    return this.cookie('', 0)
  }

  /** The session the request's cookie names, if it is known and not expired. */
  session(req: IncomingMessage): Session | undefined {
    const id = cookies(req.headers.cookie)[SESSION_COOKIE]
    if (!id) return undefined
    const s = this.sessions.get(id)
    if (!s) return undefined
    if (this.now() - s.createdAt > this.ttlMs) {
      this.sessions.delete(id)
      return undefined
    }
    return s
  }

  /** A mutating request must carry the session's CSRF token in a header. */
  csrfOk(req: IncomingMessage, s: Session): boolean {
    const h = req.headers[CSRF_HEADER]
    return typeof h === 'string' && equal(h, s.csrf)
  }

  private cookie(value: string, maxAgeS: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeS)}${this.secure ? '; Secure' : ''}`
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim()
  }
  return out
}
