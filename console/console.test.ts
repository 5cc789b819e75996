import { describe, expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import { checkConsoleOptions, ConsoleAuth, isConsoleError, parseFeedQuery, parseListen } from './index.js'

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage

describe('console address', () => {
  it('reads host:port, [v6]:port and a bare port; tells loopback apart', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080, loopback: true })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0, loopback: true })
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080, loopback: true })
    expect(parseListen('localhost:1')).toMatchObject({ loopback: true })
    expect(parseListen('0.0.0.0:8080')).toMatchObject({ loopback: false })
    expect(parseListen('10.1.2.3:443')).toMatchObject({ loopback: false })
  })
  it('refuses what is not an address, with the reason', () => {
    for (const bad of ['', 'host', '127.0.0.1:99999', 'a b:80', '127.0.0.1:-1']) {
      let err: unknown
      try {
        parseListen(bad)
      } catch (e) {
        err = e
      }
      expect(isConsoleError(err), bad).toBe(true)
      expect((err as { code: string }).code).toBe('bad_config')
    }
  })
  it('a non-loopback address needs TLS or an explicit --insecure-console', () => {
    expect(() => checkConsoleOptions({ listen: '0.0.0.0:8080' })).toThrow(/not a loopback address: give --console-tls/)
    expect(checkConsoleOptions({ listen: '0.0.0.0:8080', insecure: true }).addr.loopback).toBe(false)
    expect(() => checkConsoleOptions({ listen: '0.0.0.0:8080', tls: '/nonexistent/cert.pem,/nonexistent/key.pem' })).toThrow(/cannot read the console's TLS files/)
    expect(() => checkConsoleOptions({ listen: '127.0.0.1:8080', tls: 'only-one.pem' })).toThrow(/takes cert\.pem,key\.pem/)
  })
})

describe('console auth', () => {
  it('a right token opens a session whose cookie is HttpOnly and SameSite=Strict; a wrong one does not', () => {
    const auth = new ConsoleAuth({ token: 'secret-token' })
    expect(auth.login('a', 'nope')).toMatchObject({ ok: false, status: 401 })
    expect(auth.login('a', undefined)).toMatchObject({ ok: false, status: 401 })
    const r = auth.login('a', 'secret-token')
    if (!r.ok) throw new Error('login refused')
    expect(r.cookie).toMatch(/^ben_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    const cookie = r.cookie.split(';')[0]
    const s = auth.session(req({ cookie }))
    expect(s?.id).toBe(r.session.id)
    expect(auth.session(req({ cookie: 'ben_session=forged' }))).toBeUndefined()
    expect(auth.csrfOk(req({ 'x-csrf-token': s!.csrf }), s!)).toBe(true)
    // one character changed (a token that starts with 'x' got 'x' again: 1 run in 64 passed it)
    expect(auth.csrfOk(req({ 'x-csrf-token': (s!.csrf[0] === 'x' ? 'y' : 'x') + s!.csrf.slice(1) }), s!)).toBe(false)
    expect(auth.csrfOk(req({}), s!)).toBe(false)
    expect(new ConsoleAuth({ token: 't', secureCookie: true }).login('a', 't')).toMatchObject({ cookie: expect.stringMatching(/; Secure$/) })
  })
  it('limits failed logins per address inside a window, then lets them try again', () => {
    let now = 1_000_000
    const auth = new ConsoleAuth({ token: 'tok', maxFailures: 3, failureWindowMs: 60_000, now: () => now })
    for (let i = 0; i < 3; i++) expect(auth.login('1.2.3.4', 'bad')).toMatchObject({ status: 401 })
    expect(auth.login('1.2.3.4', 'tok')).toMatchObject({ ok: false, status: 429, retryAfterS: 60 })
    expect(auth.login('5.6.7.8', 'tok')).toMatchObject({ ok: true })
    now += 60_001
    expect(auth.login('1.2.3.4', 'tok')).toMatchObject({ ok: true })
  })
  it('sessions expire', () => {
    let now = 0
    const auth = new ConsoleAuth({ token: 'tok', sessionTtlMs: 1000, now: () => now })
    const r = auth.login('a', 'tok')
    if (!r.ok) throw new Error('login refused')
    const cookie = r.cookie.split(';')[0]
    expect(auth.session(req({ cookie }))).toBeDefined()
    now = 1001
    expect(auth.session(req({ cookie }))).toBeUndefined()
  })
  it('generates a long random token when none is given', () => {
    const a = new ConsoleAuth().token
    expect(a).toMatch(/^[\w-]{43}$/)
    expect(new ConsoleAuth().token).not.toBe(a)
  })
})

describe('feed query', () => {
  it('reads kinds, source, severity and since', () => {
    const q = parseFeedQuery(new URLSearchParams('kinds=anomaly,ack&source=web-*&severity=high&since=15m'), 1_000_000_000)
    expect(q).toEqual({ kinds: ['anomaly', 'ack'], source: 'web-*', severity: 'high', since: 1_000_000_000 - 15 * 60_000 })
    expect(parseFeedQuery(new URLSearchParams('')).kinds).toEqual(['incident', 'anomaly', 'decision', 'command', 'ack', 'dlq'])
    expect(parseFeedQuery(new URLSearchParams('since=new')).since).toBe('new')
    expect(parseFeedQuery(new URLSearchParams('since=1700000000000')).since).toBe(1700000000000)
  })
  it('refuses unknown kinds, severities and times', () => {
    expect(() => parseFeedQuery(new URLSearchParams('kinds=metric'))).toThrow(/kind 'metric' is not one of/)
    expect(() => parseFeedQuery(new URLSearchParams('severity=urgent'))).toThrow(/severity must be one of/)
    expect(() => parseFeedQuery(new URLSearchParams('since=yesterday'))).toThrow(/since must be/)
  })
})
