import { describe, expect, it } from 'vitest'
import { Counter, Registry } from 'prom-client'
import { absorbMetrics, behindSeconds, factsIn, inFlight, metricsRegistry, tally } from './metrics.js'

describe('tally', () => {
  it('is taken in by the metric when read (scrape or get)', async () => {
    const a = tally(factsIn, { stage: 'tally-test' })
    expect(tally(factsIn, { stage: 'tally-test' })).toBe(a) // one per label set
    a.inc()
    a.inc(4)
    const g = tally(inFlight, { stage: 'tally-test' })
    g.inc(3)
    g.dec()
    const text = await metricsRegistry.metrics()
    expect(text).toContain('ben_stage_facts_in_total{stage="tally-test"} 5')
    expect(text).toContain('ben_stage_in_flight{stage="tally-test"} 2')
    g.dec(2)
    a.inc()
    const gv = (await inFlight.get()).values.find((v) => v.labels.stage === 'tally-test')
    const cv = (await factsIn.get()).values.find((v) => v.labels.stage === 'tally-test')
    expect([gv?.value, cv?.value]).toEqual([0, 6])
  })
  it('is only read by metrics that take tallies in', async () => {
    const r = new Registry()
    const plain = new Counter({ name: 'plain_total', help: 'h', labelNames: ['x'], registers: [r] })
    tally(plain, { x: 'y' }).inc()
    expect(await r.metrics()).not.toContain('plain_total{x="y"}')
  })
})

describe("absorbMetrics (a stage thread's metrics in the process registry)", () => {
  const value = async (m: typeof factsIn | typeof behindSeconds, stage: string) => (await m.get()).values.find((v) => v.labels.stage === stage)?.value
  it("adds what a thread's counters grew by, also after the thread restarted from 0", async () => {
    const snap = (n: number) => [{ name: 'ben_stage_facts_in_total', type: 'counter', values: [{ value: n, labels: { stage: 'absorb-c' } }] }]
    absorbMetrics('thread-a', snap(10))
    absorbMetrics('thread-a', snap(25))
    expect(await value(factsIn, 'absorb-c')).toBe(25)
    // restarted: its counter starts again; what it counted since is added
    absorbMetrics('thread-a', snap(4))
    expect(await value(factsIn, 'absorb-c')).toBe(29)
    // another thread's count of the same series adds up
    absorbMetrics('thread-b', snap(1))
    expect(await value(factsIn, 'absorb-c')).toBe(30)
  })
  it("shows a gauge as the sum of every thread's latest value, and ignores metrics the registry does not declare", async () => {
    const snap = (n: number) => [
      { name: 'ben_stage_behind_seconds', type: 'gauge', values: [{ value: n, labels: { stage: 'absorb-g' } }] },
      { name: 'not_a_ben_metric', type: 'counter', values: [{ value: 1, labels: {} }] },
    ]
    absorbMetrics('thread-a', snap(3))
    absorbMetrics('thread-b', snap(2))
    absorbMetrics('thread-a', snap(1))
    expect(await value(behindSeconds, 'absorb-g')).toBe(3)
    expect(await metricsRegistry.metrics()).not.toContain('not_a_ben_metric')
  })
})
