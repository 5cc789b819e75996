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

describe('readEnv: BEN_PUBLISH_DELAY_MS', () => {
  it('is unset (the publisher default) when absent or empty, and 0–60000 ms when given', () => {
    expect(readEnv({}).publishDelayMs).toBeUndefined()
    expect(readEnv({ BEN_PUBLISH_DELAY_MS: '' }).publishDelayMs).toBeUndefined()
    expect(readEnv({ BEN_PUBLISH_DELAY_MS: '0' }).publishDelayMs).toBe(0)
    expect(readEnv({ BEN_PUBLISH_DELAY_MS: '25' }).publishDelayMs).toBe(25)
    expect(readEnv({ BEN_PUBLISH_DELAY_MS: '60000' }).publishDelayMs).toBe(60_000)
  })

  it('refuses anything else as bad config, naming the variable and the value', () => {
    for (const bad of ['-1', '2.5', 'fast', ' ', '1e3', '60001'])
      expect(() => readEnv({ BEN_PUBLISH_DELAY_MS: bad }), bad).toThrow(`BEN_PUBLISH_DELAY_MS=${bad}: expected 0 to 60000`)
  })
})

for (const [name, key] of [
  ['BEN_NATS_NICE', 'natsNice'],
  ['BEN_ALERT_PATH_NICE', 'alertPathNice'],
  ['BEN_DETECT_PATH_NICE', 'detectPathNice'],
] as const) {
  describe(`readEnv: ${name}`, () => {
    it('is unset (the default) when absent or empty, and a nice value when given', () => {
      expect(readEnv({})[key]).toBeUndefined()
      expect(readEnv({ [name]: '' })[key]).toBeUndefined()
      expect(readEnv({ [name]: '-10' })[key]).toBe(-10)
      expect(readEnv({ [name]: '0' })[key]).toBe(0)
      expect(readEnv({ [name]: '19' })[key]).toBe(19)
    })

    it('refuses anything else as bad config, naming the variable and the value', () => {
      for (const bad of ['-21', '20', '-5.5', 'high', ' ', '1e1']) expect(() => readEnv({ [name]: bad }), bad).toThrow(`${name}=${bad}: expected a nice value from -20 to 19`)
    })
  })
}
