import { describe, expect, it } from 'vitest'
import { releaseWindow, takeWindow, windowPoolStats } from './window-pool.js'

describe('window pool', () => {
  // a length no detector here uses, so the counts are this test's own
  const LEN = 1000

  it('hands out zeroed float32 slots of one slab, takes them back, and drops a slab once it is empty', () => {
    const before = windowPoolStats()
    const a = takeWindow(LEN)
    const b = takeWindow(LEN)
    expect(a).toBeInstanceOf(Float32Array)
    expect(a.length).toBe(LEN)
    expect(a.buffer).toBe(b.buffer)
    // slots do not overlap
    a.fill(1)
    expect(Array.from(b).every((x) => x === 0)).toBe(true)
    expect(windowPoolStats()).toEqual({ slabs: before.slabs + 1, used: before.used + 2 })
    releaseWindow(a)
    // a slot given back comes back zeroed to the next owner
    const c = takeWindow(LEN)
    expect(c.byteOffset).toBe(a.byteOffset)
    expect(Array.from(c).every((x) => x === 0)).toBe(true)
    releaseWindow(b)
    releaseWindow(c)
    expect(windowPoolStats()).toEqual(before)
  })

  it('leaves alone an array that is not one of its slots', () => {
    const before = windowPoolStats()
    const held = takeWindow(LEN)
    releaseWindow(new Float32Array(LEN))
    expect(windowPoolStats().used).toBe(before.used + 1)
    releaseWindow(held)
    expect(windowPoolStats()).toEqual(before)
  })

  it('a slab is larger than glibc’s largest mmap threshold (32 MiB): its own mapping, unmapped when it is dropped', () => {
    const a = takeWindow(LEN)
    expect(a.buffer.byteLength).toBeGreaterThan(32 * 1024 * 1024)
    releaseWindow(a)
  })
})
