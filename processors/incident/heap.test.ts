import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TimeQueue } from './heap.js'

describe('TimeQueue', () => {
  it('pops in (v, id) order whatever the push order', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ v: fc.integer({ min: 0, max: 20 }), id: fc.string({ maxLength: 3 }) }), { maxLength: 60 }), (xs) => {
        const q = new TimeQueue()
        for (const x of xs) q.push({ ...x, key: x.id })
        const out: Array<[number, string]> = []
        while (q.size > 0) {
          const e = q.pop()!
          out.push([e.v, e.id])
        }
        const sorted = xs.map((x): [number, string] => [x.v, x.id]).sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
        expect(out).toEqual(sorted)
        expect(q.pop()).toBeUndefined()
      }),
      { numRuns: 100 },
    )
  })
})
