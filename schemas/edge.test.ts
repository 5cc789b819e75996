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
})
