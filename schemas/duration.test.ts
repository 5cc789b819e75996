import { describe, expect, it } from 'vitest'
import { parseDuration } from './duration.js'

describe('parseDuration', () => {
  it('reads units, decimals and plain milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('30s')).toBe(30_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(parseDuration('2w')).toBe(1_209_600_000)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration(250)).toBe(250)
  })
  it('refuses what is not a duration', () => {
    for (const v of ['', 'soon', '10 minutes', '-5s', '1y', 1.5, -1]) expect(parseDuration(v as string)).toBeUndefined()
  })
})
