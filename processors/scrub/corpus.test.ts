import { describe, expect, it } from 'vitest'
import { corpusReport, formatCorpusReport } from './corpus-report.js'
import { generateCorpus } from './corpus.js'

describe('labelled corpus', () => {
  it('is generated deterministically from the seed', () => {
    expect(generateCorpus({ seed: 7, lines: 50 })).toEqual(generateCorpus({ seed: 7, lines: 50 }))
    expect(generateCorpus({ seed: 7, lines: 50 })).not.toEqual(generateCorpus({ seed: 8, lines: 50 }))
  })

  it('labels spans that really hold the secret text', () => {
    for (const line of generateCorpus({ seed: 3, lines: 300 })) {
      for (const s of line.secrets) expect(line.text.slice(s.start, s.end)).toBe(s.value)
      for (const n of line.negatives) expect(line.text.slice(n.start, n.end)).toBe(n.value)
    }
  })

  it('scores the detectors above their floors', () => {
    const r = corpusReport({ seed: 42, lines: 4000 })
    console.log(formatCorpusReport(r))
    expect(r.leaks).toBe(0)
    for (const [kind, s] of Object.entries(r.kinds)) expect(s.positives, `${kind} has positives`).toBeGreaterThan(50)
    for (const kind of ['card', 'aws-key', 'jwt', 'pem', 'token', 'aws-secret', 'email', 'iban', 'bearer']) {
      expect(r.kinds[kind].recall, `${kind} recall`).toBeGreaterThanOrEqual(0.99)
    }
    for (const kind of ['ipv4', 'ipv6', 'credential', 'phone']) expect(r.kinds[kind].recall, `${kind} recall`).toBeGreaterThanOrEqual(0.95)
    for (const [kind, s] of Object.entries(r.kinds)) expect(s.precision, `${kind} precision`).toBeGreaterThanOrEqual(0.95)
    expect(r.overall.recall).toBeGreaterThanOrEqual(0.98)
    expect(r.overall.precision).toBeGreaterThanOrEqual(0.98)
    // hard negatives that must never be flagged
    for (const t of ['order-id', 'order-id-grouped', 'long-id', 'epoch-us', 'uuid', 'sha1', 'sha256', 'mac', 'bad-iban', 'semver', 'date']) {
      expect(r.negatives[t]?.flagged ?? 0, `${t} flagged`).toBe(0)
    }
  })
})
