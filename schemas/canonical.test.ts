import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical.js'

/** The definition, as plainly as it can be written: keys sorted, no whitespace, undefined members dropped. */
function reference(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return 'null'
    return JSON.stringify(v) ?? 'null'
  }
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`
  const o = v as Record<string, unknown>
  const parts: string[] = []
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${reference(o[k])}`)
  return `{${parts.join(',')}}`
}

const key = fc.oneof(fc.string(), fc.constantFrom('0', '1', '10', '9', '01', '-1', '__proto__', 'constructor', 'toJSON', '', 'a"b', 'é', '\u2028', 'z'))
const scalar = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined))
const map = (values: fc.Arbitrary<unknown>) => fc.array(fc.tuple(key, values), { maxLength: 12 }).map((es) => Object.fromEntries(es))

describe('canonicalJson', () => {
  it('gives the same text as the definition for payload-shaped values and anything else', () => {
    const value = fc.oneof(map(scalar), map(fc.oneof(scalar, map(scalar))), map(fc.oneof(scalar, fc.array(scalar), map(map(scalar)))), fc.array(map(scalar)), scalar)
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v))
      }),
      { numRuns: 2000 },
    )
  })

  it("gives the definition's text for runs of objects with the same keys, in the same order or another", () => {
    // what it keeps from one object to the next (the last sort of each key count) must never show
    const keySets = [
      ['user', 'route', 'status', 'service.name'],
      ['status', 'user', 'service.name', 'route'],
      ['a', 'b', 'c', 'd'],
      ['__proto__', 'b', '10', 'é'],
    ]
    const obj = (ks: readonly string[], vals: readonly string[]) => JSON.parse(JSON.stringify(Object.fromEntries(ks.map((k, i) => [k, vals[i % vals.length]])))) as unknown
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: keySets.length - 1 }), fc.array(fc.string(), { minLength: 1, maxLength: 4 })), { minLength: 1, maxLength: 20 }), (runs) => {
        for (const [k, vals] of runs) {
          const payload = { type: 't', message: vals[0], attrs: obj(keySets[k], vals) }
          expect(canonicalJson(payload)).toBe(reference(payload))
        }
      }),
      { numRuns: 500 },
    )
  })

  it('sorts keys by UTF-16 code units, index-like keys included, and keeps __proto__ as a key', () => {
    const o = JSON.parse('{"b":"1","10":"x","9":"y","a":{"z":1,"__proto__":"p"},"é":true}') as unknown
    expect(canonicalJson(o)).toBe('{"10":"x","9":"y","a":{"__proto__":"p","z":1},"b":"1","é":true}')
    expect(canonicalJson({ type: 'log', message: 'm', attrs: { user: 'u', 'service.name': 's' } })).toBe('{"attrs":{"service.name":"s","user":"u"},"message":"m","type":"log"}')
  })
})
