import { describe, expect, it } from 'vitest'
import { streamLimitsFromEnv } from './limits.js'

describe('stream limits from the environment', () => {
  it('reads durations, sizes and counts per stream', () => {
    expect(streamLimitsFromEnv({ BEN_FACTS_MAX_AGE: '7d', BEN_FACTS_MAX_BYTES: '2GiB', BEN_DLQ_MAX_MSGS: '1000' })).toEqual({
      FACTS: { maxAgeMs: 7 * 86_400_000, maxBytes: 2 * 1024 ** 3 },
      DLQ: { maxMsgs: 1000 },
    })
    expect(streamLimitsFromEnv({})).toEqual({})
  })
  it('refuses bad values naming the variable', () => {
    expect(() => streamLimitsFromEnv({ BEN_FACTS_MAX_AGE: 'a week' })).toThrow(/BEN_FACTS_MAX_AGE=a week: expected a duration/)
    expect(() => streamLimitsFromEnv({ BEN_DERIVED_MAX_BYTES: 'lots' })).toThrow(/BEN_DERIVED_MAX_BYTES=lots/)
    expect(() => streamLimitsFromEnv({ BEN_HELLO_MAX_MSGS: '-3' })).toThrow(/positive whole number/)
  })
})
