import { describe, expect, it } from 'vitest'
import { readEnv } from './config.js'

describe('readEnv: BEN_PUBLISH_WINDOW', () => {
  it('is unset (the runtime default) when absent or empty, and a positive integer when given', () => {
    expect(readEnv({}).publishWindow).toBeUndefined()
    expect(readEnv({ BEN_PUBLISH_WINDOW: '' }).publishWindow).toBeUndefined()
    expect(readEnv({ BEN_PUBLISH_WINDOW: '256' }).publishWindow).toBe(256)
    expect(readEnv({ BEN_PUBLISH_WINDOW: '1' }).publishWindow).toBe(1)
  })

  it('refuses anything else as bad config, naming the variable and the value', () => {
    for (const bad of ['0', '-5', '12.5', 'many', ' ', '1e3', '0256'])
      expect(() => readEnv({ BEN_PUBLISH_WINDOW: bad }), bad).toThrow(`BEN_PUBLISH_WINDOW=${bad}: expected a positive integer`)
  })
})
