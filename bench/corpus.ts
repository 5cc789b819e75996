import { pathToFileURL } from 'node:url'
import type { RawFact } from '../schemas/index.js'
import { defaultManifestText, loadManifest, scrubFact, versioned, type CompiledManifest } from '../processors/scrub/index.js'
import { buildCorpus, type Sample } from './corpus/generate.js'

/** Rules of the field-rule kind (not detectors): they never count as findings. */
const FIELD_RULES = new Set(['allow', 'drop', 'mask', 'hash', 'truncate', 'deny-unknown', 'unstable'])

export interface Rate {
  readonly n: number
  readonly hit: number
  readonly rate: number
}
export interface CorpusReport {
  readonly samples: number
  /** Secrets in an assignment, a structured credential, or an attribute: masked with no 8-character run left. */
  readonly context: Rate
  readonly contextHeldOut: Rate
  /** Distinctive formats alone in a sentence. */
  readonly bare: Rate
  readonly bareHeldOut: Rate
  readonly pii: Rate
  /** Negatives with any detector redaction. */
  readonly falseAlarms: Rate
  readonly falseAlarmsHeldOut: Rate
  /** Per detector: samples it redacted something in, and how many of those were negatives. */
  readonly detectors: Readonly<Record<string, { readonly fired: number; readonly onNegatives: number }>>
  /** Misses by format and context (at most 40 listed). */
  readonly misses: readonly string[]
  readonly falseAlarmTypes: Readonly<Record<string, number>>
}

const REPORT_KEY = 'corpus-report-hash-key-not-a-secret'
const rate = (n: number, hit: number): Rate => ({ n, hit, rate: n === 0 ? 1 : hit / n })

const count = (hay: string, needle: string): number => {
  let n = 0
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) n++
  return n
}

/**
 * True when something of `secret` is left in `out`: the whole secret, or a run of 8 of its
 * characters more often than that run occurs in the rest of the input (`context`: the input
 * with the secret cut out, so `rubygems_token = rubygems_…` is not a leak of `rubygems`).
 */
export function leaked(secret: string, out: string, context = ''): boolean {
  if (secret.length < 8) return out.includes(secret)
  for (let i = 0; i + 8 <= secret.length; i++) {
    const w = secret.slice(i, i + 8)
    if (count(out, w) > count(context, w)) return true
  }
  return false
}

function run(manifest: CompiledManifest, s: Sample): { out: string; detectors: string[] } {
  const fact = { lane: 'event', source: 'corpus', ts: 1763700000000, type: 'log', message: s.message, attrs: s.attrs }
  const r = scrubFact(fact, versioned(manifest, 1))
  if (!r.ok) return { out: '', detectors: ['(refused)'] }
  const p = (r.fact as RawFact & { payload: { message: string; attrs: Record<string, string> } }).payload
  const detectors = [
    ...new Set(
      r.redactions
        .map((x) => x.rule)
        .filter((rule) => !FIELD_RULES.has(rule))
        .map((rule) => (rule.startsWith('key-') ? rule.slice(4) : rule)),
    ),
  ]
  // placeholders name their kind (`[rubygems-api-key]`): that name is not a leak of the secret
  const out = [p.message, ...Object.keys(p.attrs), ...Object.values(p.attrs)].join('\n').replace(/\[[a-z0-9-]+(?::hmac:[0-9a-f]{16})?\]/g, '[]')
  return { out, detectors }
}

/** Builds the independent corpus and scores a manifest (the shipped default unless given) through scrubFact. */
export function corpusReport(opts: { readonly seed?: number; readonly perPair?: number; readonly manifest?: CompiledManifest } = {}): CorpusReport {
  let manifest = opts.manifest
  if (!manifest) {
    const r = loadManifest(defaultManifestText(), { hashKey: REPORT_KEY })
    if (!r.ok) throw r.error
    manifest = r.value
  }
  const samples = buildCorpus({ seed: opts.seed ?? 2025, perPair: opts.perPair ?? 1 })
  const acc = { context: [0, 0], contextHeld: [0, 0], bare: [0, 0], bareHeld: [0, 0], pii: [0, 0], neg: [0, 0], negHeld: [0, 0] }
  const dets: Record<string, { fired: number; onNegatives: number }> = {}
  const misses: string[] = []
  const falseAlarmTypes: Record<string, number> = {}
  for (const s of samples) {
    const { out, detectors } = run(manifest, s)
    for (const d of detectors) (dets[d] ??= { fired: 0, onNegatives: 0 }).fired++
    if (s.kind === 'negative') {
      const flagged = detectors.length > 0
      const a = s.heldOut ? acc.negHeld : acc.neg
      a[0]++
      if (flagged) {
        a[1]++
        for (const d of detectors) dets[d].onNegatives++
        falseAlarmTypes[`${s.context} (${detectors.join(',')})`] = (falseAlarmTypes[`${s.context} (${detectors.join(',')})`] ?? 0) + 1
      }
      continue
    }
    const input = [s.message, ...Object.keys(s.attrs), ...Object.values(s.attrs)].join('\n')
    const ok = !leaked(s.secret, out, input.split(s.secret).join('\u0000'))
    const a = s.kind === 'bare' ? (s.heldOut ? acc.bareHeld : acc.bare) : s.kind === 'pii' ? acc.pii : s.heldOut ? acc.contextHeld : acc.context
    a[0]++
    if (ok) a[1]++
    else if (misses.length < 40) misses.push(`${s.format} in ${s.context}${s.heldOut ? ' (held out)' : ''}`)
  }
  return {
    samples: samples.length,
    context: rate(acc.context[0], acc.context[1]),
    contextHeldOut: rate(acc.contextHeld[0], acc.contextHeld[1]),
    bare: rate(acc.bare[0], acc.bare[1]),
    bareHeldOut: rate(acc.bareHeld[0], acc.bareHeld[1]),
    pii: rate(acc.pii[0], acc.pii[1]),
    falseAlarms: rate(acc.neg[0], acc.neg[1]),
    falseAlarmsHeldOut: rate(acc.negHeld[0], acc.negHeld[1]),
    detectors: dets,
    misses,
    falseAlarmTypes,
  }
}

/** The report as plain text. */
export function formatCorpusReport(r: CorpusReport): string {
  const pct = (x: Rate): string => `${(x.rate * 100).toFixed(1)}% (${x.hit}/${x.n})`
  const lines = [
    `samples ${r.samples}`,
    `recall in context   ${pct(r.context)}   held out ${pct(r.contextHeldOut)}`,
    `recall bare         ${pct(r.bare)}   held out ${pct(r.bareHeldOut)}   (distinctive formats)`,
    `personal data       ${pct(r.pii)}`,
    `false alarms        ${pct(r.falseAlarms)}   held out ${pct(r.falseAlarmsHeldOut)}`,
    '',
    'detector                          fired  on negatives',
  ]
  for (const [d, c] of Object.entries(r.detectors).sort((a, b) => b[1].fired - a[1].fired))
    lines.push(`${d.padEnd(32)} ${String(c.fired).padStart(6)}  ${String(c.onNegatives).padStart(6)}`)
  if (r.misses.length > 0) lines.push('', 'misses:', ...r.misses.map((m) => `  ${m}`))
  if (Object.keys(r.falseAlarmTypes).length > 0) lines.push('', 'false alarms:', ...Object.entries(r.falseAlarmTypes).map(([t, n]) => `  ${t}: ${n}`))
  return lines.join('\n')
}

// `node dist/bench/corpus.js [perPair] [seed]` (`npm run bench:corpus`) prints the report and a JSON line.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = corpusReport({ perPair: Number(process.argv[2] ?? 2), seed: Number(process.argv[3] ?? 2025) })
  console.log(formatCorpusReport(report))
  console.log(JSON.stringify({ corpus: 'scrub', ...report, misses: undefined, detectors: undefined }))
}
