import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { basename } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import type { DetectorConfig } from './config.js'
import { defaultDetectorConfig, readDetectorConfig } from './default-config.js'
import { DetectError, DetectErrorCode } from './errors.js'
import { isHeader, parseTimestamp, parseValue, splitRow } from './csv.js'

export interface DetectCsvOptions {
  /** Path of a CSV with header `timestamp,value`, or a readable stream of it. */
  readonly input: string | Readable
  /** Path to write `timestamp,value,anomaly_score,label` to, or a writable stream (not ended when given). */
  readonly output: string | Writable
  /** A loaded config, a path to a YAML/JSON config file, or absent for the shipped default. */
  readonly config?: DetectorConfig | string
  /** Series identity used to pick the rule: source (default `csv`) and metric (default: file name). */
  readonly source?: string
  readonly metric?: string
}

export interface DetectCsvSummary {
  /** Data rows read (header excluded). */
  readonly rows: number
  /** Rows fed to the detectors; the others (bad timestamp or value) got score 0. */
  readonly scored: number
  readonly skipped: number
  /** Rows labelled 1: those on which the live stage would emit an anomaly fact. */
  readonly anomalies: number
  readonly threshold: number
  readonly maxScore: number
  readonly maxScoreAt: string | null
  /** Rule that matched the series (`default` when none did). */
  readonly rule: string
  readonly metric: string
}

const CHUNK = 64 * 1024

/**
 * Offline backtest: the same ensemble the stage runs, over one CSV series, streaming. Writes
 * one line per data row, in input order: the row's timestamp and value text as read, and the
 * combined anomaly score in [0,1] (6 decimals), and `label`: 1 where the live stage would emit an
 * anomaly fact (the score reached the config's threshold, the same constant the stage uses;
 * points in an episode's refractory period keep their score below it), else 0. Rows are the stream: they are scored in file
 * order whatever their timestamps (repeats and gaps included); a row whose timestamp or value
 * cannot be parsed is not fed to the detectors and scores 0 (counted in `skipped`).
 * Rejects with a DetectError (code DETECT_BAD_CSV or DETECT_BAD_CONFIG) on a bad header,
 * config or I/O failure.
 */
export async function detectCsv(opts: DetectCsvOptions): Promise<DetectCsvSummary> {
  const config = resolveConfig(opts.config)
  const metric = opts.metric ?? (typeof opts.input === 'string' ? basename(opts.input).replace(/\.csv$/i, '') : 'value')
  const source = opts.source ?? 'csv'
  const settings = config.resolve(source, metric)
  if (!settings) throw new DetectError(DetectErrorCode.BadConfig, `the detector config disables ${metric} on ${source} (a rule with enabled: false matches it): nothing to score`)
  const ens = settings.ensemble
  const state = ens.init()
  const reading = ens.newReading()
  const point = { ts: 0, value: 0 }

  const input = typeof opts.input === 'string' ? createReadStream(opts.input, { encoding: 'utf8' }) : opts.input
  const ownOutput = typeof opts.output === 'string'
  const output = typeof opts.output === 'string' ? createWriteStream(opts.output, { encoding: 'utf8' }) : opts.output
  const outputError = new Promise<never>((_, reject) =>
    output.once('error', (err: Error) => reject(new DetectError(DetectErrorCode.BadCsv, `cannot write scores: ${(err as Error).message}`, { cause: err }))),
  )
  outputError.catch(() => undefined)
  const lines = createInterface({ input, crlfDelay: Infinity })

  let header = true
  let rows = 0
  let scored = 0
  let anomalies = 0
  let maxScore = 0
  let maxScoreAt: string | null = null
  let buf = 'timestamp,value,anomaly_score,label\n'
  const flush = async (): Promise<void> => {
    const chunk = buf
    buf = ''
    if (!output.write(chunk)) await Promise.race([once(output, 'drain'), outputError])
  }
  try {
    for await (const line of lines) {
      if (header) {
        if (!isHeader(line)) throw new DetectError(DetectErrorCode.BadCsv, `expected a header 'timestamp,value', got '${line.slice(0, 80)}'`)
        header = false
        continue
      }
      if (line.trim() === '') continue
      rows++
      const cells = splitRow(line)
      const ts = cells ? parseTimestamp(cells[0]) : NaN
      const value = cells ? parseValue(cells[1]) : NaN
      let score = 0
      let label = 0
      if (cells && Number.isFinite(ts) && Number.isFinite(value)) {
        point.ts = ts
        point.value = value
        ens.step(state, point, reading)
        score = reading.score
        scored++
        if (reading.anomaly) {
          anomalies++
          label = 1
        }
        if (score > maxScore) {
          maxScore = score
          maxScoreAt = cells[0]
        }
      }
      buf += `${cells ? cells[0] : line},${cells ? cells[1] : ''},${score.toFixed(6)},${label}\n`
      if (buf.length >= CHUNK) await flush()
    }
    if (header) throw new DetectError(DetectErrorCode.BadCsv, `the input is empty: expected a header 'timestamp,value'`)
    if (buf) await flush()
    if (ownOutput) {
      output.end()
      await Promise.race([once(output, 'finish'), outputError])
    }
  } catch (err) {
    if (ownOutput) output.destroy()
    if (err instanceof DetectError) throw err
    throw new DetectError(DetectErrorCode.BadCsv, `cannot score ${typeof opts.input === 'string' ? opts.input : 'the input stream'}: ${(err as Error).message}`, { cause: err })
  } finally {
    lines.close()
  }
  return { rows, scored, skipped: rows - scored, anomalies, threshold: ens.params.threshold, maxScore, maxScoreAt, rule: settings.rule, metric }
}

function resolveConfig(c: DetectorConfig | string | undefined): DetectorConfig {
  if (c === undefined) return defaultDetectorConfig().value
  if (typeof c !== 'string') return c
  const r = readDetectorConfig(c)
  if (!r.ok) throw new DetectError(DetectErrorCode.BadConfig, r.error.message)
  return r.value
}
