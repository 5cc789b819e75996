import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseEdgeFact, parseEdgeWithZod } from './edge.js'

/**
 * parseEdgeFact takes plainly valid objects without zod. Whatever the input, it must answer as
 * zod does: the same acceptance, the same fact, the same refusal. Inputs are valid edge objects,
 * some of them then made wrong in the ways JSON and code can make them wrong.
 */
const ascii = (min: number, max: number) => fc.string({ minLength: min, maxLength: max })
const odd = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('', 'a.b', 'x y', '*', 'é', 'has space', 'x'.repeat(129), 'x'.repeat(257), 'm'.repeat(65537), '\u0000', 'HIGH', 'info'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom(null, undefined, NaN, Infinity, -0, 1.5, -1, 2 ** 53, 10_413_792_000_000),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.constant(new Date(0)),
  fc.constant(new Map()),
  fc.constant(Object.create(null) as object),
)
const mapKey = fc.oneof({ weight: 8, arbitrary: ascii(0, 6) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '1', 'toString') })
const mapValue = fc.oneof({ weight: 6, arbitrary: ascii(0, 8) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean()) })
const map = fc.option(fc.dictionary(mapKey, mapValue, { maxKeys: 4 }), { nil: undefined })
const common = {
  source: fc.constantFrom('web-3', 'db_1', 'a'.repeat(128)),
  ts: fc.integer({ min: 0, max: 10_413_791_999_999 }),
  id: fc.option(fc.stringMatching(/^[\x21-\x7e]{1,128}$/), { nil: undefined }),
}
const valid = fc.oneof(
  fc.record({ lane: fc.constant('metric'), ...common, name: ascii(1, 12), value: fc.double({ noNaN: true, noDefaultInfinity: true }), labels: map }),
  fc.record({ lane: fc.constant('event'), ...common, type: ascii(1, 12), message: ascii(0, 20), attrs: map }),
  fc.record({ lane: fc.constant('diag'), ...common, component: ascii(1, 12), message: ascii(0, 20), attrs: map }),
  fc.record({ lane: fc.constant('alert'), ...common, rule: ascii(1, 12), severity: fc.constantFrom('low', 'medium', 'high', 'critical'), message: ascii(0, 20), attrs: map }),
)
/** A valid edge object, then none to three mutations: a field set to an odd value, a key removed, a key added. */
const FIELDS = ['lane', 'source', 'ts', 'id', 'name', 'value', 'labels', 'type', 'component', 'rule', 'severity', 'message', 'attrs', 'kind', 'extra']
const mutation = fc.tuple(fc.constantFrom('set', 'delete', 'mapValue', 'protoKey'), fc.constantFrom(...FIELDS), odd)
const edge = fc.tuple(valid, fc.array(mutation, { maxLength: 3 })).map(([v, ms]) => {
  const out: Record<string, unknown> = { ...v }
  for (const [what, field, value] of ms) {
    if (what === 'set') out[field] = value
    else if (what === 'delete') delete out[field]
    else if (what === 'mapValue') out.attrs = out.labels = { k: value }
    else out.attrs = out.labels = JSON.parse('{"k":"v","__proto__":"p"}') as unknown // an own __proto__ key, as JSON makes it
  }
  return out
})

describe('the edge fast path', () => {
  it('answers as zod does for any input around the edge shape', () => {
    let accepted = 0
    fc.assert(
      fc.property(edge, (input) => {
        const fast = parseEdgeFact(input)
        const ref = parseEdgeWithZod(input)
        // parseEdgeFact also checks source names and texts (limits.ts) before the schema
        if (!fast.ok && fast.error.reason !== 'invalid') return
        expect(fast).toStrictEqual(ref)
        if (fast.ok) accepted++
      }),
      { numRuns: 5000 },
    )
    expect(accepted).toBeGreaterThan(1000) // the valid side was exercised, not only refusals
  })

  it('builds the fact zod builds for valid input of every lane (ids from content, scalars in maps as strings)', () => {
    const inputs = [
      { lane: 'metric', source: 'web-3', ts: 1, name: 'cpu', value: 0.5, labels: { a: 1, b: true, c: 'x' } },
      { lane: 'event', source: 'web-3', ts: 2, type: 'log', message: '', id: 'given-id' },
      { lane: 'diag', source: 'web-3', ts: 3, component: 'disk', message: 'm', attrs: Object.assign(Object.create(null) as object, { k: 'v' }) },
      { lane: 'alert', source: 'web-3', ts: 4, rule: 'r', severity: 'critical', message: 'm', attrs: {}, id: undefined },
    ]
    for (const input of inputs) {
      const fast = parseEdgeFact(input)
      expect(fast.ok).toBe(true)
      expect(fast).toStrictEqual(parseEdgeWithZod(input))
    }
  })
})
