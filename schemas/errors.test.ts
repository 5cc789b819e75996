import { describe, expect, it } from 'vitest'
import { shown } from './errors.js'

describe('shown: a value of refused input as text for a message', () => {
  it('writes strings, numbers, booleans, bigints, null and undefined as they are, a string cut at max with …', () => {
    expect([shown('web-1'), shown(1.5), shown(false), shown(10n), shown(null), shown(undefined)]).toEqual(['web-1', '1.5', 'false', '10', 'null', 'undefined'])
    expect(shown('abcdef', 3)).toBe('abc…')
    expect(shown('abc', 3)).toBe('abc')
  })

  it('never calls an object’s toString: its type instead, even when toString throws or is missing', () => {
    const hostile = {
      toString() {
        throw new Error('no')
      },
    }
    expect(shown(hostile)).toBe('(object)')
    expect(shown(Object.create(null))).toBe('(object)')
    expect(shown([1, 2])).toBe('(object)')
    expect(shown(() => 1)).toBe('(function)')
    expect(shown(Symbol('s'))).toBe('(symbol)')
  })
})
