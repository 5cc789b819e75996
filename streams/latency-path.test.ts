import { describe, expect, it } from 'vitest'
import { LatencyPath } from './latency-path.js'

/** Settles pending promise reactions (no timers involved). */
const flush = () => new Promise<void>((r) => setImmediate(r))

describe('the latency path: deferrable work waits for it, a bounded time', () => {
  it('lets deferrable work go on at once while no latency-path stage has inputs', () => {
    const path = new LatencyPath()
    const d = path.deferrable()
    expect(path.busy).toBe(false)
    expect(d.turn()).toBeUndefined()
    path.enter()
    path.leave()
    expect(path.busy).toBe(false)
    expect(d.turn()).toBeUndefined()
    expect(d.stats.deferred).toBe(0)
  })

  it('holds deferrable work while a stage has inputs, and releases it when the last one has applied them', async () => {
    // a bound far away: only the stages' leaving can release the wait here
    const path = new LatencyPath({ maxDeferMs: 3_600_000, sliceMs: 3_600_000 })
    const a = path.deferrable()
    const b = path.deferrable()
    path.enter() // scrub
    path.enter() // detect
    let released = 0
    const wa = a.turn()
    const wb = b.turn()
    expect(wa).toBeInstanceOf(Promise)
    expect(wb).toBeInstanceOf(Promise)
    void wa!.then(() => released++)
    void wb!.then(() => released++)
    path.leave() // scrub done, detect still busy
    await flush()
    expect(released).toBe(0)
    path.leave() // detect done
    await Promise.all([wa, wb])
    expect(released).toBe(2)
    expect(a.stats).toMatchObject({ deferred: 1, bounded: 0 })
    // a slice is granted after the wait: the next piece of work goes on even if a stage is busy again
    path.enter()
    expect(a.turn()).toBeUndefined()
    path.leave()
  })

  it('never starves deferrable work: a wait ends at the bound while the latency path stays busy, then a slice is granted', async () => {
    const path = new LatencyPath({ maxDeferMs: 1, sliceMs: 3_600_000 })
    const d = path.deferrable()
    path.enter() // and never leaves
    const w = d.turn()
    expect(w).toBeInstanceOf(Promise)
    await w
    expect(path.busy).toBe(true)
    expect(d.stats).toMatchObject({ deferred: 1, bounded: 1 })
    expect(d.turn(), 'within its granted slice').toBeUndefined()
  })

  it('defers again once the granted slice is over', async () => {
    const path = new LatencyPath({ maxDeferMs: 1, sliceMs: 0 })
    const d = path.deferrable()
    path.enter()
    await d.turn()
    const again = d.turn()
    expect(again).toBeInstanceOf(Promise)
    await again
    expect(d.stats.deferred).toBe(2)
    path.leave()
    expect(d.turn()).toBeUndefined()
  })

  it('ends every wait at its bound, whatever their number', async () => {
    const path = new LatencyPath({ maxDeferMs: 2, sliceMs: 3_600_000 })
    const ds = Array.from({ length: 50 }, () => path.deferrable())
    path.enter()
    const waits = ds.map((d) => d.turn())
    expect(waits.every((w) => w instanceof Promise)).toBe(true)
    await Promise.all(waits)
    expect(ds.every((d) => d.stats.bounded === 1)).toBe(true)
    path.leave()
  })

  it('ignores a leave without an enter (a stage stopped twice)', () => {
    const path = new LatencyPath()
    path.leave()
    path.enter()
    expect(path.busy).toBe(true)
    path.leave()
    expect(path.busy).toBe(false)
  })
})
