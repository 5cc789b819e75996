/**
 * NAB benchmark: runs `detectCsv` (the offline path behind `ben detect`) over every NAB data
 * file with the shipped default config (or `--config <file>`), then scores the results the way
 * NAB v1.1 does (processors/detect/nab-scorer.ts): sweep every threshold over the whole corpus
 * per profile, keep the best, normalise against the null and perfect detectors.
 *
 *   node dist/bench/nab.js [--config detectors.yaml] [--keep <dir>]
 *
 * The NAB folder is $NAB_DIR, or ../shared/nab relative to the repository root. Labels are
 * read only here, to score: the detectors never see them.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { packageRoot } from '../schemas/index.js'
import { detectCsv, NAB_PROFILES, optimiseThreshold, scoreFile, type NabFile } from '../processors/detect/index.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

function listCsv(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out.push(...listCsv(p))
    else if (e.endsWith('.csv')) out.push(p)
  }
  return out
}

/** Scores column of a `timestamp,value,anomaly_score` file, with the timestamps. */
function readScores(path: string): { ts: string[]; scores: number[] } {
  const lines = readFileSync(path, 'utf8').split('\n').slice(1).filter((l) => l !== '')
  const ts: string[] = []
  const scores: number[] = []
  for (const l of lines) {
    const c = l.split(',')
    ts.push(c[0])
    scores.push(Number(c[2]))
  }
  return { ts, scores }
}

async function main(): Promise<void> {
  const nabDir = resolve(process.env.NAB_DIR ?? join(packageRoot(), '..', 'shared', 'nab'))
  const dataDir = join(nabDir, 'data')
  const windowsJson = JSON.parse(readFileSync(join(nabDir, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, Array<[string, string]>>
  const config = arg('--config')
  const keep = arg('--keep')
  const outDir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'ben-nab-'))
  const files: NabFile[] = []
  const started = performance.now()
  let rows = 0
  let configured = Number.NaN
  for (const path of listCsv(dataDir)) {
    const name = relative(dataDir, path)
    const out = join(outDir, name.replace(/[\\/]/g, '__'))
    const summary = await detectCsv({ input: path, output: out, ...(config ? { config } : {}) })
    configured = summary.threshold
    const { ts, scores } = readScores(out)
    rows += scores.length
    const windows = (windowsJson[name] ?? []).map(([a, b]): [number, number] => {
      const l = ts.indexOf(a.replace(/\.0+$/, ''))
      const r = ts.indexOf(b.replace(/\.0+$/, ''))
      if (l < 0 || r < 0) throw new Error(`${name}: window ${a}..${b} not found in the data`)
      return [l, r]
    })
    files.push({ name, scores, windows })
  }
  const seconds = (performance.now() - started) / 1000
  if (!keep) rmSync(outDir, { recursive: true, force: true })

  const results = Object.entries(NAB_PROFILES).map(([profile, p]) => {
    const best = optimiseThreshold(files, p)
    // the same scores judged at the config's own threshold: what the live stage would emit
    const raw = files.reduce((a, f) => a + scoreFile(f, configured, p).score, 0)
    const atConfigured = (100 * (raw - best.nullScore)) / (best.perfectScore - best.nullScore)
    return { profile, p, best, atConfigured }
  })
  const std = results[0]
  const per = files.map((f) => scoreFile(f, std.best.threshold, std.p))
  const pad = (s: string | number, n: number) => String(s).padStart(n)
  console.log(`${'file'.padEnd(58)} ${pad('rows', 5)} ${pad('win', 3)} ${pad('TP', 3)} ${pad('FP', 4)} ${pad('FN', 3)} ${pad('raw', 7)}`)
  for (let i = 0; i < files.length; i++) {
    const r = per[i]
    console.log(`${r.name.padEnd(58)} ${pad(files[i].scores.length, 5)} ${pad(r.windows, 3)} ${pad(r.tp, 3)} ${pad(r.fp, 4)} ${pad(r.fn, 3)} ${pad(r.score.toFixed(3), 7)}`)
  }
  const sum = (k: 'tp' | 'fp' | 'fn' | 'windows') => per.reduce((a, r) => a + r[k], 0)
  console.log(`${'total'.padEnd(58)} ${pad(rows, 5)} ${pad(sum('windows'), 3)} ${pad(sum('tp'), 3)} ${pad(sum('fp'), 4)} ${pad(sum('fn'), 3)} ${pad(std.best.raw.toFixed(3), 7)}`)
  console.log('')
  for (const r of results) {
    console.log(`${r.profile.padEnd(20)} threshold ${r.best.threshold.toFixed(6)}  raw ${r.best.raw.toFixed(3)}  null ${r.best.nullScore}  perfect ${r.best.perfectScore}  score ${r.best.normalised.toFixed(2)}  (at the config's threshold ${configured}: ${r.atConfigured.toFixed(2)})`)
  }
  console.log(`scored ${rows} rows in ${seconds.toFixed(2)} s (${Math.round(rows / seconds)} rows/s, detectCsv end to end)`)
  const round = (x: number) => Math.round(x * 100) / 100
  console.log(
    JSON.stringify({
      bench: 'nab',
      score_standard: round(std.best.normalised),
      score_reward_low_FP_rate: round(results[1].best.normalised),
      score_reward_low_FN_rate: round(results[2].best.normalised),
      threshold_standard: std.best.threshold,
      threshold_configured: configured,
      score_standard_at_configured: round(std.atConfigured),
      files: files.length,
      rows,
      windows: sum('windows'),
      tp: sum('tp'),
      fp: sum('fp'),
      fn: sum('fn'),
      config: config ?? 'default',
    }),
  )
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
