import type { Baseline, DetectorScore, Labels, Severity } from '../../schemas/index.js'
import type { SeverityCutoffs } from './defaults.js'
import type { DetectorName, Reading } from './detector.js'

/** Numbers in sentences: 3 significant digits, exponent form for very large or small values. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2)
  return String(Number(x.toPrecision(3)))
}

export function severityOf(score: number, c: SeverityCutoffs): Severity {
  return score >= c.critical ? 'critical' : score >= c.high ? 'high' : score >= c.medium ? 'medium' : 'low'
}

const side = (dir: number): string => (dir < 0 ? 'below' : 'above')

function periodText(ms: number): string {
  if (ms === 86_400_000) return 'daily'
  if (ms === 604_800_000) return 'weekly'
  if (ms === 3_600_000) return 'hourly'
  return `${fmt(ms / 60_000)}-minute`
}

export interface Subject {
  readonly metric: string
  readonly source: string
  readonly value: number
}

/** The clause for the detector that scored highest: what was seen, against what baseline. */
export function describe(name: DetectorName, r: Readonly<Reading>, s: Subject, periodMs = 86_400_000): string {
  const head = `${s.metric} on ${s.source} was ${fmt(s.value)}`
  switch (name) {
    case 'ewma':
      return `${head}, ${fmt(r.raw)}σ ${side(r.direction)} its EWMA baseline of ${fmt(r.centre)} ± ${fmt(r.spread)}`
    case 'cusum':
      return `${head}, after a sustained ${r.direction < 0 ? 'downward' : 'upward'} shift from its baseline of ${fmt(r.centre)} ± ${fmt(r.spread)} (CUSUM ${fmt(r.raw)} against a limit of ${fmt(r.threshold)})`
    case 'mad':
      return `${head}, ${fmt(r.raw)} robust deviations ${side(r.direction)} the median of its recent values, ${fmt(r.centre)} ± ${fmt(r.spread)}`
    case 'seasonal':
      return `${head}, ${fmt(r.raw)}σ ${side(r.direction)} its usual ${fmt(r.centre)} ± ${fmt(r.spread)} for this time in its ${periodText(periodMs)} cycle`
    case 'shift': {
      // how far this point is from the baseline, and how far the whole run has stayed
      const z = r.spread > 0 ? Math.abs(s.value - r.centre) / r.spread : r.raw
      return `${head}, ${fmt(z)}σ ${side(r.direction)} its baseline of ${fmt(r.centre)} ± ${fmt(r.spread)}: a level shift, its latest points all at least ${fmt(r.raw)}σ ${side(r.direction)} it`
    }
    case 'spike':
      return `${head}, ${fmt(r.raw)}σ ${side(r.direction)} its baseline of ${fmt(r.centre)} ± ${fmt(r.spread)}: a sudden spike from the point before it`
    case 'range':
      return `${head}, ${r.direction < 0 ? 'below the lowest' : 'above the highest'} value it has shown (range ${fmt(r.centre - r.spread)} to ${fmt(r.centre + r.spread)}) by ${fmt(r.raw * 100)} % of that range`
    case 'flat':
      return `${head} for ${fmt(r.raw * r.spread)} points in a row: stuck, ${fmt(r.raw)}x longer than the longest run of repeated values it has shown (${fmt(r.spread)} points)`
    case 'level':
      return `${head}, and the mean of its recent values went ${r.direction < 0 ? 'below the lowest' : 'above the highest'} level it has shown (levels ${fmt(r.centre - r.spread)} to ${fmt(r.centre + r.spread)}) by ${fmt(r.raw * 100)} % of that span`
    case 'drift':
      return `${head}, and the distribution of its recent values has drifted from its reference (KL divergence ${fmt(r.raw)} against a limit of ${fmt(r.threshold)})`
    case 'pca':
      return `${head}, and its group's metrics stopped moving together: reconstruction error ${fmt(r.raw)}σ above its usual ${fmt(r.centre)} ± ${fmt(r.spread)}`
    default: {
      const never: never = name
      return `${head} (${String(never)})`
    }
  }
}

export interface AnomalyParts {
  readonly detectors: DetectorScore[]
  readonly baseline: Baseline
  readonly explain: string
}

/**
 * Detector scores, baseline and sentence for an anomalous point. `readings` and `names` are
 * the ensemble's members; `top` the one that scored highest (its baseline is reported).
 */
export function explainAnomaly(
  subject: Subject,
  names: readonly DetectorName[],
  weights: readonly number[],
  readings: readonly Readonly<Reading>[],
  top: number,
  score: number,
  threshold: number,
  severity: Severity,
  scale: number,
  periodMs: number,
): AnomalyParts {
  const detectors: DetectorScore[] = []
  const agreeing: string[] = []
  for (let i = 0; i < names.length; i++) {
    const r = readings[i]
    detectors.push({ name: names[i], score: r.score, raw: r.raw, threshold: r.threshold })
    if (i !== top && weights[i] > 0 && r.anomaly) agreeing.push(names[i])
  }
  const t = top >= 0 ? readings[top] : undefined
  const baseline: Baseline = t ? { centre: t.centre, spread: t.spread } : { centre: 0, spread: 0 }
  const lead = t ? describe(names[top], t, subject, periodMs) : `${subject.metric} on ${subject.source} was ${fmt(subject.value)}`
  const also = agreeing.length ? `; ${agreeing.join(' and ')} agree` : ''
  const drift = scale > 1 ? `; thresholds are raised x${fmt(scale)} after recent drift` : ''
  const explain = `${lead} (score ${fmt(score)} ≥ ${fmt(threshold)}, ${severity}${also}${drift}).`
  return { detectors, baseline, explain }
}

/** Canonical key of a label set: sorted `k=v` pairs ('' when empty). */
export function labelsKey(labels: Labels): string {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ''
  if (keys.length > 1) keys.sort()
  let out = ''
  for (let i = 0; i < keys.length; i++) out += (i ? '\u0001' : '') + keys[i] + '=' + labels[keys[i]]
  return out
}
