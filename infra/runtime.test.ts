import { describe, expect, it } from 'vitest'
import { ROUTINE_PUBLISH_WINDOW, routinePublishWindow } from './runtime.js'

describe('routinePublishWindow', () => {
  it('is ROUTINE_PUBLISH_WINDOW when BEN_PUBLISH_WINDOW is unset or empty', () => {
    expect(routinePublishWindow(undefined)).toBe(ROUTINE_PUBLISH_WINDOW)
    expect(routinePublishWindow('')).toBe(ROUTINE_PUBLISH_WINDOW)
  })

  it('takes a positive integer from BEN_PUBLISH_WINDOW', () => {
    expect(routinePublishWindow('256')).toBe(256)
    expect(routinePublishWindow('1')).toBe(1)
  })

  it('refuses a value that is not a positive integer, naming the variable and the value', () => {
    for (const bad of ['0', '-5', '12.5', 'many', ' ', '1e3'])
      expect(() => routinePublishWindow(bad)).toThrow(`BEN_PUBLISH_WINDOW must be a positive integer (the PubAcks a publisher awaits at once), not '${bad}'`)
  })
})
