import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseEdgeFact, parseEdgeJson, toEdgeJson } from './edge.js'
import { FactCodec } from './codec.js'

const examples = [
  { lane: 'metric', source: 'web-3', ts: 1763700000000, name: 'cpu.load', value: 0.73, labels: { job: 'batch-7' } },
  { lane: 'event', source: 'web-3', ts: 1763700000100, type: 'auth.login', message: 'login ok for alice', attrs: { user: 'alice' } },
  { lane: 'diag', source: 'web-3', ts: 1763700000200, component: 'disk', message: 'smart warning', attrs: {} },
  { lane: 'alert', source: 'web-3', ts: 1763700000300, rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: { path: '/tmp/x' } },
]

describe('the JSON edge shape', () => {
  it('accepts the DESIGN.md examples and converts them to facts that encode as Avro', () => {
    const codec = new FactCodec()
    for (const e of examples) {
      const r = parseEdgeFact(e)
      expect(r.ok).toBe(true)
      if (!r.ok) continue
      expect(r.value.kind).toBe(e.lane)
      expect(r.value.id).toMatch(/^[0-9a-f]{32}$/)
      const enc = codec.encode(r.value)
      expect(codec.decode(enc.data, enc.fingerprint).ok).toBe(true)
      expect(toEdgeJson(r.value)).toMatchObject(e)
    }
  })

  it('derives the id from the content: the same line twice is the same fact', () => {
    const a = parseEdgeFact(examples[0])
    const b = parseEdgeFact({ ...examples[0], labels: { job: 'batch-7' } })
    const c = parseEdgeFact({ ...examples[0], value: 0.74 })
    expect(a.ok && b.ok && c.ok).toBe(true)
    if (a.ok && b.ok && c.ok) {
      expect(a.value.id).toBe(b.value.id)
      expect(a.value.id).not.toBe(c.value.id)
    }
    const given = parseEdgeFact({ ...examples[0], id: 'my-id-1' })
    expect(given.ok && given.value.id).toBe('my-id-1')
  })

  it.each([
    [{ ...examples[0], source: 'web.3' }, /^source: .*'\.'/],
    [{ ...examples[0], source: 'web*' }, /^source: /],
    [{ ...examples[0], source: 'web 3' }, /^source: /],
    [{ ...examples[0], source: 'a>' }, /^source: /],
    [{ ...examples[0], ts: 'yesterday' }, /^ts: /],
    [{ ...examples[0], ts: 1.5 }, /^ts: must be an integer/],
    [{ ...examples[0], value: undefined }, /^value: /],
    [{ ...examples[0], extra: 1 }, /unknown field\(s\) 'extra'/],
    [{ ...examples[3], severity: 'urgent' }, /^severity: /],
    [{ ...examples[0], lane: 'trace' }, /^lane: /],
  ])('refuses %j naming the field', (input, message) => {
    const r = parseEdgeFact(input)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.reason).toBe('invalid')
      expect(r.error.message).toMatch(message)
    }
  })

  it('judges each source on its own, whatever source came before (a run of one source is checked once)', () => {
    const fact = (source: string) => ({ lane: 'event', source, ts: 1, type: 'log', message: 'm' })
    const verdict = (source: string) => {
      const r = parseEdgeFact(fact(source))
      return r.ok ? 'ok' : r.error.reason
    }
    const alone = new Map<string, string>()
    const sources = ['web-3', 'a.b', 'web-3', 'é', 'web-3', 'x y', 'db_1', '', 'x'.repeat(128), 'x'.repeat(129), 'web-3', 'tab\there', 'db_1', '*', '>']
    for (const s of new Set(sources)) alone.set(s, verdict(s))
    expect(alone.get('web-3')).toBe('ok')
    expect(alone.get('é')).not.toBe('ok')
    expect(alone.get('a.b')).not.toBe('ok')
    // in every order, after every other source, each gets the verdict it gets alone
    fc.assert(fc.property(fc.array(fc.constantFrom(...sources), { minLength: 2, maxLength: 8 }), (run) => run.every((s) => verdict(s) === alone.get(s))))
  })

  it('refuses non-JSON with not_json', () => {
    expect(parseEdgeJson('{"lane":')).toMatchObject({ ok: false, error: { reason: 'not_json' } })
  })

  it('takes identity from the subject: a body claiming another source is refused', () => {
    const r = parseEdgeFact({ ...examples[0], source: 'web-4' }, { lane: 'metric', source: 'web-3' })
    expect(r).toMatchObject({ ok: false, error: { message: expect.stringMatching(/does not match the subject/) } })
    const filled = parseEdgeFact({ ts: 1, name: 'x', value: 1 }, { lane: 'metric', source: 'web-3' })
    expect(filled.ok && filled.value.source).toBe('web-3')
  })

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        const r = parseEdgeFact(v)
        return typeof r.ok === 'boolean'
      }),
      { numRuns: 2000 },
    )
    fc.assert(fc.property(fc.string(), (s) => typeof parseEdgeJson(s).ok === 'boolean'))
  })

  it.each([
    ['zero-width space', 'web\u200b-1', /U\+200B at position 3, a zero-width character/],
    ['right-to-left override', 'web-1\u202egpj', /U\+202E .*bidirectional-control/],
    ['fullwidth letters', '\uff57eb-1', /U\+FF57 .*fullwidth/],
    ['a Cyrillic look-alike', 'w\u0435b-1', /U\+0435 .*can pass for another name/],
  ])('refuses a source name with %s (bad_name), on the body and on the subject', (_what, source, message) => {
    const body = parseEdgeFact({ ...examples[0], source })
    expect(body).toMatchObject({ ok: false, error: { reason: 'bad_name', message: expect.stringMatching(message) } })
    const subject = parseEdgeFact({ ts: 1, name: 'x', value: 1 }, { lane: 'metric', source })
    expect(subject).toMatchObject({ ok: false, error: { reason: 'bad_name' } })
  })

  it('refuses text a decoder replaced (U+FFFD), lone surrogates, and ts after 2299 (DateTime64), naming the field', () => {
    const replaced = parseEdgeJson(
      Buffer.from([...Buffer.from('{"lane":"event","source":"web-3","ts":1,"type":"t","message":"ab'), 0xc3, 0x28, ...Buffer.from('","attrs":{}}')]).toString('utf8'),
    )
    expect(replaced).toMatchObject({ ok: false, error: { reason: 'invalid_text', message: expect.stringMatching(/^message: holds U\+FFFD at position 2/) } })
    expect(parseEdgeFact({ ...examples[1], attrs: { user: 'a\ud800' } })).toMatchObject({
      ok: false,
      error: { reason: 'invalid_text', message: expect.stringMatching(/^attrs\.user: holds a lone UTF-16 surrogate/) },
    })
    expect(parseEdgeFact({ ...examples[0], labels: { 'j\ufffd': 'x' } })).toMatchObject({
      ok: false,
      error: { reason: 'invalid_text', message: expect.stringMatching(/^labels key: /) },
    })
    expect(parseEdgeFact({ ...examples[0], ts: Date.UTC(2300, 0, 1) })).toMatchObject({
      ok: false,
      error: { reason: 'invalid', message: expect.stringMatching(/^ts: is after 2299-12-31/) },
    })
    expect(parseEdgeFact({ ...examples[0], ts: Date.UTC(2299, 11, 31, 23, 59, 59, 999) }).ok).toBe(true)
    expect(parseEdgeFact({ ...examples[1], message: 'caf\u00e9 \u4e2d\u6587 \ud83d\ude00' }).ok).toBe(true) // valid Unicode is kept as it is
  })

  it('bounds event time against arrival: more than the skew ahead is refused with future_ts', () => {
    const arrivedAt = 1763700000000
    expect(parseEdgeFact({ ...examples[0], ts: arrivedAt + 5 * 60_000 }, undefined, { arrivedAt }).ok).toBe(true)
    const r = parseEdgeFact({ ...examples[0], ts: arrivedAt + 5 * 60_000 + 1 }, undefined, { arrivedAt })
    expect(r).toMatchObject({ ok: false, error: { reason: 'future_ts', message: expect.stringMatching(/^ts: .* after the fact arrived .*BEN_MAX_FUTURE_SKEW/) } })
    expect(parseEdgeFact({ ...examples[0], ts: 8.64e15 }, undefined, { arrivedAt }).ok).toBe(false)
  })
})
