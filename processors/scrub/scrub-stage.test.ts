import { describe, expect, it } from 'vitest'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { derivedId, FactCodec, type EventFact, type RawFact } from '../../schemas/index.js'
import { compileManifest, REDACTION_BUCKET, scrub, scrubStage, SCRUB_PRODUCER, SCRUB_VERSION, TRUNCATION_MARK, versioned } from './index.js'
import { alert, cfg, diag, event, metric, payloadOf } from '../../test/fixtures/scrub.js'

const step = (f: RawFact, c = cfg()) => scrubStage.step(null, f, c)
const only = (f: RawFact, c = cfg()): RawFact => {
  const r = step(f, c)
  expect(r.rejected).toBeUndefined()
  expect(r.out).toHaveLength(1)
  return r.out[0] as RawFact
}

describe('scrubStage', () => {
  it('derives a scrubbed fact with id, lineage, producer, config, redactions and explain', () => {
    const input = event('login ok for alice@acme.io', { user: 'alice', path: '/tmp/x' })
    const out = only(input, cfg({ fields: [{ path: 'attrs.user', rule: 'hash' }] }, 9))
    expect(out.id).toBe(derivedId('scrub', SCRUB_VERSION, 9, [input.id], input.source))
    expect(out).toMatchObject({ ts: input.ts, source: 'web-3', lane: 'routine', kind: 'event', lineage: [input.id], producer: SCRUB_PRODUCER, config: { [REDACTION_BUCKET]: 9 } })
    expect(payloadOf(out)).toEqual({ type: 'auth.login', message: 'login ok for [email]', attrs: { user: expect.stringMatching(/^hmac:[0-9a-f]{16}$/), path: '/tmp/x' } })
    expect(out.redactions).toEqual([
      { field: 'message', rule: 'email', count: 1 },
      { field: 'attrs.user', rule: 'hash', count: 1 },
    ])
    expect(out.explain).toBe('scrubbed 2 values: message email masked (1), attrs.user hashed (1)')
    expect(JSON.stringify(out)).not.toContain('alice')
  })

  it('gives consecutive facts that redacted the same things one frozen redaction list, and a fact that redacted otherwise its own', () => {
    const a = only(event('mail bob@acme.io'))
    const b = only(event('mail carol@acme.io'))
    const c = only(event('mail bob@acme.io and carol@acme.io'))
    const d = only(event('mail dave@acme.io'))
    expect(a.redactions).toEqual([{ field: 'message', rule: 'email', count: 1 }])
    expect(b.redactions).toBe(a.redactions)
    expect(Object.isFrozen(a.redactions) && Object.isFrozen(a.redactions[0])).toBe(true)
    expect(c.redactions).toEqual([{ field: 'message', rule: 'email', count: 2 }])
    expect(d.redactions).toEqual([{ field: 'message', rule: 'email', count: 1 }])
    expect(d.redactions).not.toBe(a.redactions)
  })

  it('scrubs a short text seen before (its redacted form kept) as it scrubbed it the first time, counts included', () => {
    const c = cfg({ detectors: { email: { action: 'hash' } } }, 4)
    const texts = ['login ok for bob@acme.io from 10.0.3.7', 'bob@acme.io and bob@acme.io', 'no secret here']
    const once = texts.map((t, i) => only(event(t, { peer: '10.1.2.3' }, `e-${i}`), c))
    // the same texts again through the same (now warm) manifest, and through a fresh one
    const again = texts.map((t, i) => only(event(t, { peer: '10.1.2.3' }, `e-${i}`), c))
    const fresh = texts.map((t, i) => only(event(t, { peer: '10.1.2.3' }, `e-${i}`), cfg({ detectors: { email: { action: 'hash' } } }, 4)))
    const codec = new FactCodec()
    for (let i = 0; i < texts.length; i++) {
      expect(Buffer.from(codec.encode(again[i]).data)).toEqual(Buffer.from(codec.encode(once[i]).data))
      expect(Buffer.from(codec.encode(fresh[i]).data)).toEqual(Buffer.from(codec.encode(once[i]).data))
    }
    expect(payloadOf(again[0])).toMatchObject({ message: expect.stringMatching(/^login ok for \[email:hmac:[0-9a-f]{16}\] from \[ipv4\]$/), attrs: { peer: '[ipv4]' } })
    expect(again[1].redactions).toEqual([
      { field: 'message', rule: 'email', count: 2 },
      { field: 'attrs.peer', rule: 'ipv4', count: 1 },
    ])
    expect(again[2].redactions).toEqual([{ field: 'attrs.peer', rule: 'ipv4', count: 1 }])
  })

  it('says "nothing to redact" and reuses the payload when the fact is clean', () => {
    const input = event('cache warmed in 35ms', { path: '/var/cache' })
    const out = only(input)
    expect(out.explain).toBe('nothing to redact')
    expect(out.redactions).toEqual([])
    expect(out.payload).toBe(input.payload)
  })

  it('accepts metric, event, diag and alert facts and scrubs each kind', () => {
    const m = only(metric({ job: 'batch-7', owner: 'ops@acme.io' }))
    expect(payloadOf(m)).toEqual({ name: 'cpu.load', value: 0.73, labels: { job: 'batch-7', owner: '[email]' } })
    expect(only(diag('smart warning on 10.1.2.3')).payload).toMatchObject({ component: 'disk', message: 'smart warning on [ipv4]' })
    const a = only(alert('exec by AKIAQ3EGRT5KFJ2VZP7N', { path: '/tmp/x' }))
    expect(a.payload).toMatchObject({ rule: 'edr.exec', severity: 'high', message: 'exec by [aws-access-key]' })
    expect(a.lane).toBe('alert')
    expect(scrubStage.accepts(m)).toBe(true)
    expect(scrubStage.accepts({ ...m, kind: 'anomaly' } as never)).toBe(false)
  })

  it('applies drop, mask, hash, truncate and allow rules, with wildcards', () => {
    const c = cfg({
      fields: [
        { path: 'attrs.*secret*', rule: 'drop' },
        { path: 'attrs.session', rule: 'mask', placeholder: '[session]' },
        { path: 'attrs.user', rule: 'hash' },
        { path: 'attrs.note', rule: 'truncate', maxLength: 30 },
        { path: 'attrs.trace', rule: 'allow', scan: false },
        { path: 'type', rule: 'mask' },
      ],
    })
    const out = only(event('ok', { client_secret: 's', session: 'abc', user: 'bob', note: 'x'.repeat(50), trace: '4111111111111111', other: 'kept' }), c)
    const p = payloadOf(out)
    expect(p.type).toBe('[redacted]')
    const attrs = p.attrs as Record<string, string>
    expect(attrs).not.toHaveProperty('client_secret')
    expect(attrs.session).toBe('[session]')
    expect(attrs.user).toMatch(/^hmac:[0-9a-f]{16}$/)
    expect(attrs.note).toBe('x'.repeat(30 - TRUNCATION_MARK.length) + TRUNCATION_MARK)
    expect(attrs.note).toHaveLength(30)
    expect(attrs.trace).toBe('4111111111111111') // allowed and not scanned: the operator's explicit choice
    expect(attrs.other).toBe('kept')
    expect(out.redactions.map((r) => `${r.field}:${r.rule}`).sort()).toEqual([
      'attrs.client_secret:drop',
      'attrs.note:truncate',
      'attrs.session:mask',
      'attrs.user:hash',
      'type:mask',
    ])
  })

  it('prefers an exact path over a wildcard, and the more specific wildcard', () => {
    const c = cfg({
      fields: [
        { path: 'attrs.*', rule: 'drop' },
        { path: 'attrs.user*', rule: 'mask' },
        { path: 'attrs.user_agent', rule: 'allow' },
      ],
    })
    const attrs = payloadOf(only(event('ok', { user_agent: 'curl/8', user_id: '42', host: 'h' }), c)).attrs
    expect(attrs).toEqual({ user_agent: 'curl/8', user_id: '[redacted]' })
  })

  it('hashes with the key: equal values join, other keys give other hashes', () => {
    const rule = { fields: [{ path: 'attrs.user', rule: 'hash' }] }
    const a = payloadOf(only(event('a', { user: 'alice' }, 'e1'), cfg(rule))).attrs as Record<string, string>
    const b = payloadOf(only(event('b', { user: 'alice' }, 'e2'), cfg(rule))).attrs as Record<string, string>
    expect(a.user).toBe(b.user)
    const r = compileManifest(rule, { hashKey: 'another-key-entirely-0123456789' })
    if (!r.ok) throw r.error
    const c = payloadOf(only(event('a', { user: 'alice' }), versioned(r.value, 3))).attrs as Record<string, string>
    expect(c.user).toMatch(/^hmac:[0-9a-f]{16}$/)
    expect(c.user).not.toBe(a.user)
  })

  it('drops and counts unknown attrs in deny-unknown mode', () => {
    const c = cfg({ unknownFields: 'drop', fields: [{ path: 'attrs.path', rule: 'allow' }] })
    const out = only(event('ok', { path: '/tmp/x', pid: '42', cwd: '/root' }), c)
    expect(payloadOf(out).attrs).toEqual({ path: '/tmp/x' })
    expect(out.redactions).toEqual([
      { field: 'attrs.pid', rule: 'deny-unknown', count: 1 },
      { field: 'attrs.cwd', rule: 'deny-unknown', count: 1 },
    ])
    expect(out.explain).toBe('scrubbed 2 values: attrs.pid dropped as unknown (1), attrs.cwd dropped as unknown (1)')
  })

  it('drops an entry whose key holds a secret, without naming the key', () => {
    const out = only(event('ok', { 'alice@acme.io': 'clicked' }))
    expect(payloadOf(out).attrs).toEqual({})
    expect(out.redactions).toEqual([{ field: 'attrs', rule: 'key-email', count: 1 }])
    expect(JSON.stringify(out)).not.toContain('alice')
  })

  it('scans only the paths the manifest names', () => {
    const c = cfg({ scan: ['message', 'attrs.url'] })
    const p = payloadOf(only(event('to bob@acme.io', { url: 'http://10.0.0.9/', ip: '10.0.0.9' }), c))
    expect(p.message).toBe('to [email]')
    expect(p.attrs).toEqual({ url: 'http://[ipv4]/', ip: '10.0.0.9' })
  })

  it('carries redaction records from an earlier scrub and merges them', () => {
    const first = only(event('a@acme.io', { user: 'x' }), cfg({ fields: [{ path: 'attrs.user', rule: 'mask' }] }))
    const again = only({ ...(first as EventFact), payload: { ...(first as EventFact).payload, message: '[email] and b@acme.io' } })
    expect(again.redactions).toEqual([
      { field: 'message', rule: 'email', count: 2 },
      { field: 'attrs.user', rule: 'mask', count: 1 },
    ])
    expect(again.explain).toBe('scrubbed 1 value: message email masked (1); 2 earlier redaction records carried over')
  })

  it('a password value settles at its placeholder: masked once, not re-masked at every pass', () => {
    for (const [message, expected] of [
      ['password=hunter2xyz ok', 'password=[credential] ok'],
      ['login ok, pwd: S3cr3t!pass, retry', 'login ok, pwd: [credential], retry'],
      ['onepassword_token = A3-NFIQV0-C0Q9XM700HQ-YSVZ2-591XD-CB29T', 'onepassword_token = [onepassword-secret-key]'],
    ]) {
      const c = cfg({
        detectors: {
          catalogue: [{ name: 'onepassword-secret-key', prefix: 'A3-', body: '[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}' }],
        },
      })
      const out = only(event(message), c)
      expect(payloadOf(out).message).toBe(expected)
      expect(out.redactions.map((r) => r.rule)).not.toContain('unstable')
      expect(out.redactions.reduce((n, r) => n + r.count, 0)).toBe(1)
      // and scrubbing the output again (same manifest) changes nothing
      expect(payloadOf(only(out, c)).message).toBe(expected)
    }
  })

  it('rejects a message too large to scan, with a stable reason code, and passes nothing on', () => {
    const c = cfg({ limits: { maxFieldLength: 1000 } })
    const r = step(event('x'.repeat(999) + ' alice@acme.io'), c)
    expect(r.out).toEqual([])
    expect(r.rejected?.reason).toBe('invalid')
    expect(r.rejected?.message).toMatch(/^scrub_too_large: fact evt-1: payload\.message is 1013 characters, over limits\.maxFieldLength 1000/)
    expect(r.rejected?.message).not.toContain('alice')
  })

  it('rejects too many entries and too much text in total', () => {
    const many = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']))
    expect(step(event('ok', many), cfg({ limits: { maxFields: 10 } })).rejected?.message).toMatch(/^scrub_too_many_fields: /)
    const big = { a: 'y'.repeat(60), b: 'z'.repeat(60) }
    expect(step(event('ok', big), cfg({ limits: { maxTotalLength: 100 } })).rejected?.message).toMatch(/^scrub_too_large: .*maxTotalLength/)
  })

  it('rejects malformed facts instead of throwing', () => {
    for (const bad of [
      { ...event('x'), payload: null },
      { ...event('x'), payload: { type: 't', message: 42, attrs: {} } },
      { ...event('x'), payload: { type: 't', message: 'm', attrs: { a: 1 } } },
      { ...event('x'), ts: 'yesterday' },
      { ...event('x'), redactions: [{ field: 'f' }] },
      { ...event('x'), kind: 'anomaly' },
      null,
    ]) {
      const r = scrubStage.step(null, bad as never, cfg())
      expect(r.out).toEqual([])
      expect(r.rejected?.reason).toBe('invalid')
      expect(r.rejected?.message).toMatch(/^scrub_malformed: /)
    }
  })

  it('output round-trips through the Avro codec, for every kind', () => {
    const codec = new FactCodec()
    const c = cfg({ fields: [{ path: 'attrs.user', rule: 'hash' }] })
    for (const input of [event('from 10.0.0.1 alice@acme.io', { user: 'alice' }), metric({ job: 'j' }), diag('d'), alert('card 4111111111111111')]) {
      const out = only(input, c)
      const enc = codec.encode(out)
      const dec = codec.decode(enc.data, enc.fingerprint)
      expect(dec).toEqual({ ok: true, value: out })
    }
  })

  it('state is null and serialisable', () => {
    expect(scrubStage.initialState()).toBeNull()
    expect(scrubStage.deserialize?.(JSON.parse(JSON.stringify(scrubStage.serialize?.(null) ?? null)))).toBeNull()
  })
})

describe('scrub operator (marbles)', () => {
  const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

  it('happy path: each input yields its scrubbed fact', () => {
    const c = cfg()
    const a = event('hi bob@acme.io', {}, 'a')
    const b = event('clean', {}, 'b')
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<RawFact>('-a-b-|', { a, b })
      expectObservable(src.pipe(scrub(() => c))).toBe('-x-y-|', {
        x: { input: a, out: [scrubStage.step(null, a, c).out[0]] },
        y: { input: b, out: [scrubStage.step(null, b, c).out[0]] },
      })
    })
  })

  it('reject path: an oversized fact is emitted as rejected and the stream goes on', () => {
    const c = cfg({ limits: { maxFieldLength: 100 } })
    const big = event('z'.repeat(200), {}, 'big')
    const ok = event('fine', {}, 'ok')
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<RawFact>('-a-b-|', { a: big, b: ok })
      expectObservable(src.pipe(scrub(() => c))).toBe('-x-y-|', {
        x: { input: big, out: [], rejected: scrubStage.step(null, big, c).rejected },
        y: { input: ok, out: [scrubStage.step(null, ok, c).out[0]] },
      })
    })
  })

  it('picks up a new manifest revision from the next fact (hot reload)', () => {
    const rev1 = cfg({}, 1)
    const rev2 = cfg({ detectors: { email: false } }, 2)
    let current = rev1
    const a = event('x@acme.io', {}, 'a')
    scheduler().run(({ cold, expectObservable }) => {
      const seen = cold<RawFact>('-a--a-|', { a }).pipe(
        scrub(() => current),
        map((e) => {
          current = rev2
          const f = e.out[0] as RawFact
          return `${f.config[REDACTION_BUCKET]}:${payloadOf(f).message as string}`
        }),
      )
      expectObservable(seen).toBe('-x--y-|', { x: '1:[email]', y: '2:x@acme.io' })
    })
  })

  it('unsubscribing stops the upstream', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold<RawFact>('-a-a-a-a-|', { a: event('x') })
      expectObservable(src.pipe(scrub(() => cfg())), '^--!').toBe('-x-', { x: expect.anything() })
      expectSubscriptions(src.subscriptions).toBe('^--!')
    })
  })
})
