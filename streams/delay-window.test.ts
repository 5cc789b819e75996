import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DelayWindow } from './delay-window.js'

describe('DelayWindow', () => {
  it('keeps the whole window while the round trips stay near the least one', () => {
    const w = new DelayWindow(4096, 10)
    for (let t = 0; t < 1000; t++) expect(w.sample(1 + (t % 5), t)).toBe(4096)
  })

  it('shrinks while the delay over the base is above the target, down to its floor, and grows back when it falls', () => {
    const w = new DelayWindow(4096, 10, 32)
    w.sample(1, 0) // the base: 1 ms
    const seen: number[] = []
    for (let t = 1; t <= 40; t++) seen.push(w.sample(60, t)) // 59 ms queued: 6× the target
    expect(seen[0]).toBe(3072) // a quarter less a round trip at twice the target or more
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1])
    expect(seen.at(-1)).toBe(32)
    const back: number[] = []
    for (let t = 41; t <= 100; t++) back.push(w.sample(1, t))
    expect(back[0]).toBe(40) // a quarter more with no queueing
    expect(back.at(-1)).toBe(4096)
  })

  it('settles where the queueing delay meets the target', () => {
    // a server that takes 1,000 publishes a ms after 1 ms of base: a full window W queues W/1000 ms.
    // The first publish went out alone (the base); the next ones are behind a full window.
    const w = new DelayWindow(100_000, 5, 1)
    let size = w.sample(1, 0)
    for (let t = 1; t < 2000; t++) size = w.sample(1 + size / 1000, t)
    expect(size).toBeGreaterThan(4000)
    expect(size).toBeLessThan(6000)
  })

  it('forgets a least round trip after two spans: a path that became slower is its new base', () => {
    const w = new DelayWindow(1000, 10, 10, 1000)
    w.sample(1, 0)
    for (let t = 1; t < 1000; t += 10) w.sample(50, t)
    expect(w.baseMs).toBe(1)
    expect(w.value).toBe(10)
    for (let t = 1000; t < 2000; t += 10) w.sample(50, t) // the second span: the base of the first still counts
    expect(w.baseMs).toBe(1)
    for (let t = 2000; t < 2200; t += 10) w.sample(50, t)
    expect(w.baseMs).toBe(50)
    expect(w.value).toBeGreaterThan(10) // 50 ms is no longer a queue: it grows again
  })

  it('stays within its floor and ceiling whatever the round trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { maxLength: 300 }),
        (max, target, rtts) => {
          const w = new DelayWindow(max, target)
          let t = 0
          for (const r of rtts) {
            const v = w.sample(r, (t += r + 1))
            expect(v).toBeGreaterThanOrEqual(Math.min(max, 32))
            expect(v).toBeLessThanOrEqual(max)
          }
        },
      ),
    )
  })
})
