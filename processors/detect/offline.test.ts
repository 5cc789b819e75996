import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { loadDetectorConfig } from './config.js'
import { parseTimestamp } from './csv.js'
import { isDetectError } from './errors.js'
import { detectCsv } from './offline.js'
import { series } from './synthetic.js'
import { defaultDetectorConfig } from './default-config.js'
import { stepAll } from '../stage.js'
import { detectStage } from './stage.js'
import type { MetricFact } from '../../schemas/index.js'

const dir = mkdtempSync(join(tmpdir(), 'ben-detect-'))
const nabTs = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19)

describe('detectCsv', () => {
  it('scores every row in input order, in [0,1], and the spike highest', async () => {
    const pts = series({ n: 1500, seed: 2, noise: 1, level: 20, spikes: [[1200, 30]] })
    const input = join(dir, 'spike.csv')
    writeFileSync(input, 'timestamp,value\n' + pts.map((p) => `${nabTs(p.ts)},${p.value}`).join('\n') + '\n')
    const output = join(dir, 'spike.scores.csv')
    const summary = await detectCsv({ input, output })
    const lines = readFileSync(output, 'utf8').trim().split('\n')
    expect(lines[0]).toBe('timestamp,value,anomaly_score,label')
    expect(lines).toHaveLength(1501)
    const rows = lines.slice(1).map((l) => l.split(','))
    rows.forEach((r, i) => {
      expect(r[0]).toBe(nabTs(pts[i].ts))
      expect(Number(r[1])).toBe(pts[i].value)
      const s = Number(r[2])
      expect(s).toBeGreaterThanOrEqual(0)
      expect(s).toBeLessThanOrEqual(1)
    })
    const scores = rows.map((r) => Number(r[2]))
    expect(scores.indexOf(Math.max(...scores))).toBe(1200)
    expect(summary).toMatchObject({ rows: 1500, scored: 1500, skipped: 0, rule: 'default', metric: 'spike', maxScoreAt: nabTs(pts[1200].ts) })
    expect(summary.anomalies).toBeGreaterThanOrEqual(1)
  })

  it('takes streams, epoch-ms timestamps and a config; bad rows score 0', async () => {
    const cfg = loadDetectorConfig('detectors: { cusum: { enabled: false }, mad: { enabled: false } }')
    if (!cfg.ok) throw new Error(cfg.error.message)
    const body = ['timestamp,value', ...Array.from({ length: 100 }, (_, i) => `${1_700_000_000_000 + i * 60_000},${i === 50 ? 'oops' : i === 80 ? 100 : 10 + (i % 3) * 0.1}`)].join(
      '\r\n',
    )
    const out = new PassThrough()
    const chunks: Buffer[] = []
    out.on('data', (c: Buffer) => chunks.push(c))
    const summary = await detectCsv({ input: Readable.from([body]), output: out, config: cfg.value, metric: 'x' })
    const rows = Buffer.concat(chunks).toString('utf8').trim().split('\n').slice(1)
    expect(rows).toHaveLength(100)
    expect(rows[50]).toBe(`${1_700_000_000_000 + 50 * 60_000},oops,0.000000,0`)
    expect(Number(rows[80].split(',')[2])).toBeGreaterThan(0.9)
    expect(summary).toMatchObject({ rows: 100, scored: 99, skipped: 1, metric: 'x' })
  })

  it('labels 1 exactly the rows on which the live stage emits an anomaly, at the shipped threshold', async () => {
    // a level shift, a spike, a stuck stretch and a new record: several members speak
    const pts = series({ n: 3000, seed: 5, noise: 1, level: 50, spikes: [[1700, 40]], shift: [2200, 12] })
    for (let i = 2600; i < 2700; i++) pts[i] = { ...pts[i], value: 61 }
    const input = join(dir, 'labels.csv')
    writeFileSync(input, 'timestamp,value\n' + pts.map((p) => `${p.ts},${p.value}`).join('\n') + '\n')
    const output = join(dir, 'labels.scores.csv')
    const summary = await detectCsv({ input, output, metric: 'm', source: 'csv' })
    const rows = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
    const labelled = rows.flatMap((r, i) => (r[3] === '1' ? [i] : []))
    const threshold = defaultDetectorConfig().value.resolve('csv', 'm')?.ensemble.params.threshold ?? NaN
    expect(summary.threshold).toBe(threshold)
    // label 1 <=> score >= the shipped threshold
    rows.forEach((r) => expect(r[3] === '1').toBe(Number(r[2]) >= threshold))
    const facts: MetricFact[] = pts.map(
      (p, i) =>
        ({
          id: `f${i}`,
          ts: p.ts,
          source: 'csv',
          lane: 'metric',
          kind: 'metric',
          payload: { name: 'm', value: p.value },
          lineage: [],
          producer: 'test',
          config: {},
        }) as unknown as MetricFact,
    )
    const emitted = stepAll(detectStage, facts, defaultDetectorConfig()).out.map((f) => Number(f.lineage[0].slice(1)))
    expect(labelled.length).toBeGreaterThanOrEqual(2)
    expect(labelled).toEqual(emitted)
    expect(summary.anomalies).toBe(labelled.length)
  })

  it('rejects a file without the header, with a DetectError', async () => {
    const input = join(dir, 'bad.csv')
    writeFileSync(input, 'time,val\n1,2\n')
    const err = await detectCsv({ input, output: join(dir, 'bad.out.csv') }).catch((e: unknown) => e)
    expect(isDetectError(err) && err.code).toBe('DETECT_BAD_CSV')
    const missing = await detectCsv({ input: join(dir, 'nope.csv'), output: join(dir, 'nope.out.csv') }).catch((e: unknown) => e)
    expect(isDetectError(missing) && missing.code).toBe('DETECT_BAD_CSV')
  })

  it('parses NAB and epoch timestamps as UTC', () => {
    expect(parseTimestamp('2014-04-10 07:15:00')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0))
    expect(parseTimestamp('2014-04-10 07:15:00.000000')).toBe(Date.UTC(2014, 3, 10, 7, 15, 0))
    expect(parseTimestamp('1700000000000')).toBe(1_700_000_000_000)
    expect(parseTimestamp('yesterday')).toBeNaN()
  })
})
