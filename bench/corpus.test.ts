import { describe, expect, it } from 'vitest'
import { corpusReport, formatCorpusReport, leaked } from './corpus.js'
import { buildCorpus } from './corpus/generate.js'
import { FORMATS } from './corpus/formats.js'

describe('labelled corpus (independent of the detectors)', () => {
  it('is generated deterministically from the seed', () => {
    expect(buildCorpus({ seed: 7 })).toEqual(buildCorpus({ seed: 7 }))
    expect(buildCorpus({ seed: 7 })).not.toEqual(buildCorpus({ seed: 8 }))
  })

  it('places every secret in its sample, keeps a held-out part, and has negatives', () => {
    const c = buildCorpus({ seed: 3 })
    for (const s of c.filter((x) => x.secret !== '')) expect([s.message, ...Object.values(s.attrs)].join('\n')).toContain(s.secret)
    expect(c.filter((s) => s.heldOut).length).toBeGreaterThan(c.length / 5)
    expect(c.filter((s) => s.kind === 'negative').length).toBeGreaterThan(100)
    expect(FORMATS.length).toBeGreaterThanOrEqual(120)
  })

  it('leak check: any 8-character run of the secret left over counts', () => {
    expect(leaked('abcdefghijkl', 'x [k] ijkl')).toBe(false)
    expect(leaked('abcdefghijkl', 'x bcdefghi y')).toBe(true)
    expect(leaked('rubygems_0123456789', 'rubygems_token=[k]', 'rubygems_token=\u0000')).toBe(false)
  })

  it('the default manifest meets the aims on it, held-out part included', () => {
    const r = corpusReport({ seed: 42, perPair: 1 })
    console.log(formatCorpusReport(r))
    expect(r.context.rate).toBeGreaterThanOrEqual(0.97)
    expect(r.contextHeldOut.rate).toBeGreaterThanOrEqual(0.97)
    expect(r.bare.rate).toBeGreaterThanOrEqual(0.9)
    expect(r.bareHeldOut.rate).toBeGreaterThanOrEqual(0.9)
    expect(r.pii.rate).toBeGreaterThanOrEqual(0.95)
    expect(r.falseAlarms.rate).toBeLessThanOrEqual(0.02)
    expect(r.falseAlarmsHeldOut.rate).toBeLessThanOrEqual(0.02)
  })
})
