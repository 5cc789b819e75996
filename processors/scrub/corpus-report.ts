import { pathToFileURL } from 'node:url'
import { loadManifest } from './compile.js'
import type { CompiledManifest } from './compiled.js'
import { generateCorpus, type CorpusOptions } from './corpus.js'
import { defaultManifestText } from './default-manifest.js'
import { detectSecrets, redactString } from './detect.js'
import { DETECTOR_NAMES } from './detectors.js'

export interface KindScore {
  /** Labelled secrets of this kind. */
  readonly positives: number
  /** …found by this kind's detector. */
  readonly detected: number
  /** Findings this detector reported. */
  readonly findings: number
  /** …that were not on a labelled secret of this kind. */
  readonly falsePositives: number
  readonly recall: number
  readonly precision: number
}

export interface CorpusReport {
  readonly seed: number
  readonly lines: number
  readonly kinds: Readonly<Record<string, KindScore>>
  readonly overall: KindScore
  /** Labelled secrets whose text survived redaction verbatim (whatever detector masked the rest). Must be 0. */
  readonly leaks: number
  /** Hard negatives by type: how many there were and how many any detector flagged. */
  readonly negatives: Readonly<Record<string, { readonly count: number; readonly flagged: number }>>
}

const REPORT_KEY = 'corpus-report-hash-key-not-a-secret'
const ratio = (a: number, b: number): number => (b === 0 ? 1 : a / b)
const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end

/**
 * Generates the labelled corpus and scores the detectors on it: recall and precision per
 * detector kind and overall (micro-averaged), leaks, and how often each hard negative fooled
 * a detector. Uses the shipped default manifest unless one is given.
 */
export function corpusReport(opts: CorpusOptions & { readonly manifest?: CompiledManifest } = {}): CorpusReport {
  const seed = opts.seed ?? 42
  const lines = generateCorpus({ ...opts, seed })
  let manifest = opts.manifest
  if (!manifest) {
    const r = loadManifest(defaultManifestText(), { hashKey: REPORT_KEY })
    if (!r.ok) throw r.error
    manifest = r.value
  }
  const acc = new Map<string, { positives: number; detected: number; findings: number; falsePositives: number }>()
  for (const k of DETECTOR_NAMES) acc.set(k, { positives: 0, detected: 0, findings: 0, falsePositives: 0 })
  const negatives: Record<string, { count: number; flagged: number }> = {}
  let leaks = 0
  for (const line of lines) {
    const found = detectSecrets(manifest, line.text)
    for (const s of line.secrets) {
      const a = acc.get(s.kind)!
      a.positives++
      if (found.some((f) => f.detector === s.kind && overlaps(f, s))) a.detected++
    }
    for (const f of found) {
      const a = acc.get(f.detector) ?? { positives: 0, detected: 0, findings: 0, falsePositives: 0 }
      acc.set(f.detector, a)
      a.findings++
      if (!line.secrets.some((s) => s.kind === f.detector && overlaps(f, s))) a.falsePositives++
    }
    for (const n of line.negatives) {
      const e = (negatives[n.type] ??= { count: 0, flagged: 0 })
      e.count++
      if (found.some((f) => overlaps(f, n))) e.flagged++
    }
    if (line.secrets.length > 0) {
      const redacted = redactString(manifest, line.text)
      for (const s of line.secrets) if (redacted.includes(s.value)) leaks++
    }
  }
  const kinds: Record<string, KindScore> = {}
  const total = { positives: 0, detected: 0, findings: 0, falsePositives: 0 }
  for (const [k, a] of acc) {
    kinds[k] = { ...a, recall: ratio(a.detected, a.positives), precision: ratio(a.findings - a.falsePositives, a.findings) }
    total.positives += a.positives
    total.detected += a.detected
    total.findings += a.findings
    total.falsePositives += a.falsePositives
  }
  const overall = { ...total, recall: ratio(total.detected, total.positives), precision: ratio(total.findings - total.falsePositives, total.findings) }
  return { seed, lines: lines.length, kinds, overall, leaks, negatives }
}

/** The report as a plain-text table. */
export function formatCorpusReport(r: CorpusReport): string {
  const rows = [['kind', 'positives', 'recall', 'findings', 'false+', 'precision']]
  const fmt = (x: number): string => x.toFixed(4)
  for (const [k, s] of Object.entries(r.kinds)) rows.push([k, String(s.positives), fmt(s.recall), String(s.findings), String(s.falsePositives), fmt(s.precision)])
  rows.push(['overall', String(r.overall.positives), fmt(r.overall.recall), String(r.overall.findings), String(r.overall.falsePositives), fmt(r.overall.precision)])
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  const lines = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '))
  lines.push('', `lines=${r.lines} seed=${r.seed} leaks=${r.leaks}`)
  lines.push('hard negatives flagged: ' + Object.entries(r.negatives).map(([t, n]) => `${t} ${n.flagged}/${n.count}`).join(', '))
  return lines.join('\n')
}

// `node dist/processors/scrub/corpus-report.js [lines] [seed]` prints the table and a JSON line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = corpusReport({ lines: Number(process.argv[2] ?? 5000), seed: Number(process.argv[3] ?? 42) })
  console.log(formatCorpusReport(report))
  console.log(JSON.stringify({ corpus: 'scrub', ...report }))
}
