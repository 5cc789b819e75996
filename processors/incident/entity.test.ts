import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { entityFromKey, entityOf, entityText } from './index.js'

describe('entity', () => {
  it('source plus the correlating labels present, in config order; non-string values ignored', () => {
    const e = entityOf('web-3', { artifact: 'a1', job: 'batch-7', team: 'x', pod: 3 }, ['job', 'artifact', 'pod'])
    expect(e.labels).toEqual({ source: 'web-3', job: 'batch-7', artifact: 'a1' })
    expect(entityText(e.labels)).toBe('web-3 (job batch-7, artifact a1)')
    expect(entityOf('web-3', null, ['job']).labels).toEqual({ source: 'web-3' })
  })

  it('keys are unambiguous and rebuild the entity, whatever the values hold', () => {
    const text = fc.string({ maxLength: 12, unit: fc.constantFrom('a', '1', ':', '|', '=', ' ', 'é') })
    fc.assert(
      fc.property(text, fc.dictionary(fc.constantFrom('job', 'artifact'), text), text, fc.dictionary(fc.constantFrom('job', 'artifact'), text), (s1, l1, s2, l2) => {
        const a = entityOf(s1, l1, ['job', 'artifact'])
        const b = entityOf(s2, l2, ['job', 'artifact'])
        expect(entityFromKey(a.key)).toEqual(a)
        expect(a.key === b.key).toBe(JSON.stringify(a.labels) === JSON.stringify(b.labels))
      }),
      { numRuns: 300 },
    )
  })

  it('a malformed key rebuilds nothing', () => {
    for (const k of ['', '5:ab', '2:ab|x', '2:ab|3:job', '2:ab|3:job9:x']) expect(entityFromKey(k)).toBeUndefined()
  })
})
