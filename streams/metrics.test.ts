import { describe, expect, it } from 'vitest'
import { Counter, Registry } from 'prom-client'
import { factsIn, inFlight, metricsRegistry, tally } from './metrics.js'

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
