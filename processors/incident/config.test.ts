import { describe, expect, it } from 'vitest'
import { defaultIncidentConfig, isBadIncidentConfig, IncidentErrorCode, loadIncidentConfig } from './index.js'

describe('incident config', () => {
  it('defaults: 15m quiet, 1d maximum, correlate job and artifact; frozen, revision 0 of ben-incidents', () => {
    const d = defaultIncidentConfig()
    expect(d).toMatchObject({ bucket: 'ben-incidents', revision: 0 })
    expect(d.value).toEqual({
      quietPeriodMs: 900_000,
      maxDurationMs: 86_400_000,
      correlate: ['job', 'artifact'],
      maxFacts: 256,
      maxOpen: 10_000,
      maxIds: 100_000,
      idRetentionMs: 86_400_000,
      quietText: '15m',
      maxDurationText: '1d',
    })
    expect(Object.isFrozen(d.value)).toBe(true)
    expect(Object.isFrozen(d.value.correlate)).toBe(true)
    const empty = loadIncidentConfig('')
    expect(empty.ok && empty.value).toEqual(d.value)
  })

  it('reads YAML and JSON', () => {
    const y = loadIncidentConfig('quietPeriod: 5m\nmaxDuration: 2h\ncorrelate: [job, pod]\nmaxFacts: 64\n')
    expect(y.ok && y.value).toMatchObject({ quietPeriodMs: 300_000, maxDurationMs: 7_200_000, correlate: ['job', 'pod'], maxFacts: 64, quietText: '5m' })
    const j = loadIncidentConfig('{"quietPeriod": 60000, "maxIds": 500}')
    expect(j.ok && j.value).toMatchObject({ quietPeriodMs: 60_000, maxIds: 500 })
  })

  it.each([
    ['quietPeriod: 5x', "incident config quietPeriod: quietPeriod '5x' is not a positive duration"],
    ['quietPeriod: 0', 'is not a positive duration'],
    ['maxFacts: 2', 'incident config maxFacts: maxFacts must be at least 4'],
    ['maxOpen: 1.5', 'maxOpen must be a whole number'],
    ['correlate: [source]', "'source' always correlates"],
    ['correlate: [job, job]', 'correlate lists each label once'],
    ['correlate: ["a b"]', 'incident config correlate.0: a label name is'],
    ['window: 5m', "unknown field(s) 'window'; known: quietPeriod, maxDuration"],
  ])('%s → an error naming the field', (text, message) => {
    const r = loadIncidentConfig(text)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.code).toBe(IncidentErrorCode.Invalid)
      expect(r.error.message).toContain(message)
      expect(isBadIncidentConfig(r.error)).toBe(true)
    }
  })

  it('YAML syntax errors and duplicate keys are reported as syntax', () => {
    for (const text of ['quietPeriod: [5m', 'quietPeriod: 5m\nquietPeriod: 6m']) {
      const r = loadIncidentConfig(text)
      expect(!r.ok && r.error.code).toBe(IncidentErrorCode.Syntax)
      expect(!r.ok && r.error.name).toBe('IncidentError')
    }
  })
})
