import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical.js'
import { edgeContentId } from './content-id.js'
import { hashId } from './ids.js'

/** The definition: the hash of the joined parts, the payload as canonical JSON. */
const reference = (kind: string, source: string, ts: number, payload: unknown) => hashId('edge', kind, source, String(ts), canonicalJson(payload))

const key = fc.oneof(fc.string(), fc.constantFrom('0', '10', '__proto__', 'constructor', '', 'a"b', 'é', '\u2028', 'service.name', 'user'))
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'a"b\\c', '\u0000\u001f', 'é€😀', '\ud800', 'x'.repeat(70_000)))
const scalar = fc.oneof(text, fc.double(), fc.integer(), fc.constantFrom(0, -0, 2 ** 53, 2 ** 53 - 1, -1, 1.5, 1e21), fc.boolean(), fc.constant(null), fc.constant(undefined))
const map = (values: fc.Arbitrary<unknown>) => fc.array(fc.tuple(key, values), { maxLength: 10 }).map((es) => Object.fromEntries(es))

describe('edgeContentId', () => {
  it('is the hash of the joined parts with the canonical JSON of the payload, or undefined (the caller then hashes that)', () => {
    const payload = fc.oneof(map(scalar), map(fc.oneof(scalar, map(scalar))), map(fc.oneof(scalar, fc.array(scalar), map(map(scalar)))), fc.array(scalar), scalar)
    let fast = 0
    fc.assert(
      fc.property(
        fc.constantFrom('metric', 'event', 'diag', 'alert'),
        text,
        fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 9, 10, 2 ** 31 - 1, 2 ** 31, 1e8, 1e8 - 1, 1e16, 2 ** 53 - 1, 10_413_792_000_000, 1.5, -1)),
        payload,
        (kind, source, ts, p) => {
          const id = edgeContentId(kind, source, ts, p)
          if (id !== undefined) {
            fast++
            expect(id).toBe(reference(kind, source, ts, p))
          }
        },
      ),
      { numRuns: 3000 },
    )
    expect(fast).toBeGreaterThan(100)
  })

  it('takes the payloads edge facts have, runs of one shape included', () => {
    for (let i = 0; i < 50; i++) {
      const event = {
        type: 'log',
        message: `login ok for user${i}@example.org from 10.0.${i}.7`,
        attrs: { 'service.name': 'bench', user: `user${i}`, status: String(200 + (i % 3)) },
      }
      const metric = { name: 'cpu.load', value: i / 7, labels: i % 2 ? { job: 'batch-7', host: 'h' } : {} }
      for (const [kind, p] of [
        ['event', event],
        ['metric', metric],
      ] as const) {
        const id = edgeContentId(kind, 'web-3', 1_763_700_000_000 + i, p)
        expect(id).toBeDefined()
        expect(id).toBe(reference(kind, 'web-3', 1_763_700_000_000 + i, p))
      }
    }
  })

  it('gives the definition for runs of a few shapes, the same keys in another order, and values that change kind', () => {
    const shapeOf = fc.constantFrom(
      ['type', 'message', 'attrs'],
      ['attrs', 'message', 'type'],
      ['name', 'value', 'labels'],
      ['b', 'a'],
      ['a', 'b'],
      ['0', 'x'],
      ['__proto__', 'a'],
      [],
    )
    const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined))
    const inner = fc
      .oneof(
        shapeOf,
        shapeOf.map((ks) => [...ks, 'extra']),
      )
      .chain((ks) => fc.tuple(...ks.map((k) => value.map((v) => [k, v] as const))))
    const payload = fc
      .tuple(
        shapeOf,
        fc.array(
          fc.oneof(
            value,
            inner.map((es) => Object.fromEntries(es)),
          ),
          { minLength: 4, maxLength: 4 },
        ),
      )
      .map(([ks, vs]) => Object.fromEntries(ks.map((k, i) => [k, vs[i]])))
    fc.assert(
      fc.property(fc.array(payload, { minLength: 1, maxLength: 30 }), (run) => {
        for (const p of run) {
          const id = edgeContentId('event', 'web-3', 1_763_700_000_000, p)
          if (id !== undefined) expect(id).toBe(reference('event', 'web-3', 1_763_700_000_000, p))
        }
      }),
      { numRuns: 500 },
    )
  })
})
