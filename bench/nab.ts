/**
 * NAB benchmark: runs `detectCsv` (the offline path behind `ben detect`) over every NAB data
 * file with the shipped default config (or `--config <file>`), then scores the results the way
 * NAB v1.1 does (processors/detect/nab-scorer.ts), three ways:
 *
 * - at the shipped threshold: the rows `ben detect` labels 1 (what the live stage would emit),
 *   not re-optimised: the number that should carry over to series the detectors never saw;
 * - at the optimised threshold: NAB's own sweep over the whole corpus, per profile;
 * - leave one family out: the threshold optimised (standard profile) on the other families,
 *   scored on the held-out one. A family without label windows has no normalised score (its
 *   null and perfect detectors coincide): its false positives and raw cost are shown instead.
 *
 *   node dist/bench/nab.js [--config detectors.yaml] [--keep <dir>]
 *
 * The NAB folder is $NAB_DIR, or ../shared/nab relative to the repository root. Labels are
 * read only here, to score: the detectors never see them. Ends with one JSON line.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { packageRoot } from '../schemas/index.js'
import { detectCsv, NAB_PROFILES, optimiseThreshold, scoreFile, type FileResult, type NabFile, type NabProfile } from '../processors/detect/index.js'

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

/** Score and label columns of a `timestamp,value,anomaly_score,label` file, with the timestamps. */
function readScores(path: string): { ts: string[]; scores: number[]; labels: number[] } {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
  const ts: string[] = []
  const scores: number[] = []
  const labels: number[] = []
  for (const l of lines) {
    const c = l.split(',')
    ts.push(c[0])
    scores.push(Number(c[2]))
    labels.push(c[3] === '1' ? 1 : 0)
  }
  return { ts, scores, labels }
}

interface Scored {
  readonly file: NabFile
  readonly family: string
  /** The label column as a score: 1 where the live stage would emit, 0 elsewhere. */
  readonly shipped: NabFile
}

const normalise = (raw: number, files: readonly NabFile[], p: NabProfile): number => {
  const windows = files.reduce((a, f) => a + f.windows.length, 0)
  const nul = -p.fnWeight * windows
  const perfect = p.tpWeight * windows
  return perfect === nul ? Number.NaN : (100 * (raw - nul)) / (perfect - nul)
}

const totals = (rs: readonly FileResult[]) => ({
  raw: rs.reduce((a, r) => a + r.score, 0),
  tp: rs.reduce((a, r) => a + r.tp, 0),
  fp: rs.reduce((a, r) => a + r.fp, 0),
  fn: rs.reduce((a, r) => a + r.fn, 0),
})

async function main(): Promise<void> {
  const nabDir = resolve(process.env.NAB_DIR ?? join(packageRoot(), '..', 'shared', 'nab'))
  const dataDir = join(nabDir, 'data')
  const windowsJson = JSON.parse(readFileSync(join(nabDir, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, Array<[string, string]>>
  const config = arg('--config')
  const keep = arg('--keep')
  const outDir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'ben-nab-'))
  const scored: Scored[] = []
  const started = performance.now()
  let rows = 0
  let shippedThreshold = Number.NaN
  for (const path of listCsv(dataDir)) {
    const name = relative(dataDir, path)
    const out = join(outDir, name.replace(/[\\/]/g, '__'))
    const summary = await detectCsv({ input: path, output: out, ...(config ? { config } : {}) })
    shippedThreshold = summary.threshold
    const { ts, scores, labels } = readScores(out)
    rows += scores.length
    const windows = (windowsJson[name] ?? []).map(([a, b]): [number, number] => {
      const l = ts.indexOf(a.replace(/\.0+$/, ''))
      const r = ts.indexOf(b.replace(/\.0+$/, ''))
      if (l < 0 || r < 0) throw new Error(`${name}: window ${a}..${b} not found in the data`)
      return [l, r]
    })
    scored.push({ file: { name, scores, windows }, family: name.split(/[\\/]/)[0], shipped: { name, scores: labels, windows } })
  }
  const seconds = (performance.now() - started) / 1000
  if (!keep) rmSync(outDir, { recursive: true, force: true })

  const files = scored.map((s) => s.file)
  const shipped = scored.map((s) => s.shipped)
  const profiles = Object.entries(NAB_PROFILES) as Array<[keyof typeof NAB_PROFILES, NabProfile]>
  const results = profiles.map(([profile, p]) => {
    const best = optimiseThreshold(files, p)
    const atShipped = totals(shipped.map((f) => scoreFile(f, 0.5, p)))
    return { profile, p, best, shipped: { ...atShipped, normalised: normalise(atShipped.raw, shipped, p) } }
  })
  const std = results[0]
  const pad = (s: string | number, n: number) => String(s).padStart(n)
  console.log(`per file at the shipped threshold ${shippedThreshold} (standard profile)`)
  console.log(`${'file'.padEnd(58)} ${pad('rows', 5)} ${pad('win', 3)} ${pad('TP', 3)} ${pad('FP', 4)} ${pad('FN', 3)} ${pad('raw', 7)}`)
  const per = shipped.map((f) => scoreFile(f, 0.5, std.p))
  for (let i = 0; i < files.length; i++) {
    const r = per[i]
    console.log(`${r.name.padEnd(58)} ${pad(files[i].scores.length, 5)} ${pad(r.windows, 3)} ${pad(r.tp, 3)} ${pad(r.fp, 4)} ${pad(r.fn, 3)} ${pad(r.score.toFixed(3), 7)}`)
  }
  const t = totals(per)
  const windows = files.reduce((a, f) => a + f.windows.length, 0)
  console.log(`${'total'.padEnd(58)} ${pad(rows, 5)} ${pad(windows, 3)} ${pad(t.tp, 3)} ${pad(t.fp, 4)} ${pad(t.fn, 3)} ${pad(t.raw.toFixed(3), 7)}`)
  console.log('')
  console.log(`${'profile'.padEnd(20)} ${'shipped threshold'.padStart(24)}   ${'optimised threshold'.padStart(30)}`)
  for (const r of results) {
    console.log(
      `${r.profile.padEnd(20)} ${pad(r.shipped.normalised.toFixed(2), 7)} @ ${shippedThreshold} (TP ${r.shipped.tp} FP ${r.shipped.fp})   ${pad(r.best.normalised.toFixed(2), 7)} @ ${r.best.threshold.toFixed(4)}`,
    )
  }
  console.log('')
  console.log('leave one family out (standard): threshold optimised on the other families, scored on this one')
  const families = [...new Set(scored.map((s) => s.family))]
  const lofo = families.map((family) => {
    const train = scored.filter((s) => s.family !== family).map((s) => s.file)
    const test = scored.filter((s) => s.family === family)
    const threshold = optimiseThreshold(train, std.p).threshold
    const held = totals(test.map((s) => scoreFile(s.file, threshold, std.p)))
    const atShipped = totals(test.map((s) => scoreFile(s.shipped, 0.5, std.p)))
    const tf = test.map((s) => s.file)
    return { family, threshold, score: normalise(held.raw, tf, std.p), fp: held.fp, raw: held.raw, shipped: normalise(atShipped.raw, tf, std.p), shippedFp: atShipped.fp }
  })
  const show = (x: number) => (Number.isNaN(x) ? '    n/a' : pad(x.toFixed(2), 7))
  for (const l of lofo) {
    console.log(
      `${l.family.padEnd(24)} threshold ${l.threshold.toFixed(4)}  score ${show(l.score)} (FP ${l.fp}, raw ${l.raw.toFixed(3)})   at the shipped threshold ${show(l.shipped)} (FP ${l.shippedFp})`,
    )
  }
  console.log(`scored ${rows} rows in ${seconds.toFixed(2)} s (${Math.round(rows / seconds)} rows/s, detectCsv end to end)`)
  const round = (x: number) => (Number.isNaN(x) ? null : Math.round(x * 100) / 100)
  console.log(
    JSON.stringify({
      bench: 'nab',
      threshold_shipped: shippedThreshold,
      shipped_standard: round(std.shipped.normalised),
      shipped_reward_low_FP_rate: round(results[1].shipped.normalised),
      shipped_reward_low_FN_rate: round(results[2].shipped.normalised),
      optimised_standard: round(std.best.normalised),
      optimised_reward_low_FP_rate: round(results[1].best.normalised),
      optimised_reward_low_FN_rate: round(results[2].best.normalised),
      threshold_optimised_standard: std.best.threshold,
      lofo: Object.fromEntries(lofo.map((l) => [l.family, { threshold: l.threshold, score: round(l.score), fp: l.fp }])),
      files: files.length,
      rows,
      windows,
      tp: t.tp,
      fp: t.fp,
      fn: t.fn,
      config: config ?? 'default',
    }),
  )
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
