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

describe('readEnv: BEN_NATS_NICE', () => {
  it('is unset (the default, -20) when absent or empty, and a nice value when given', () => {
    expect(readEnv({}).natsNice).toBeUndefined()
    expect(readEnv({ BEN_NATS_NICE: '' }).natsNice).toBeUndefined()
    expect(readEnv({ BEN_NATS_NICE: '-10' }).natsNice).toBe(-10)
    expect(readEnv({ BEN_NATS_NICE: '0' }).natsNice).toBe(0)
    expect(readEnv({ BEN_NATS_NICE: '19' }).natsNice).toBe(19)
  })

  it('refuses anything else as bad config, naming the variable and the value', () => {
    for (const bad of ['-21', '20', '-5.5', 'high', ' ', '1e1'])
      expect(() => readEnv({ BEN_NATS_NICE: bad }), bad).toThrow(`BEN_NATS_NICE=${bad}: expected a nice value from -20 to 19`)
  })
})
