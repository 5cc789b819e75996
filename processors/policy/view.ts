import { SEVERITY_ORDER, shown, type AlertFact, type AnomalyFact, type Labels, type Severity } from '../../schemas/index.js'

/**
 * What rules see of a fact: the fields conditions and templates refer to, flattened once per
 * fact so rule evaluation is a series of cheap comparisons.
 */
export interface FactView {
  readonly kind: 'anomaly' | 'alert'
  readonly lane: string
  readonly source: string
  readonly severity: Severity
  /** SEVERITY_ORDER of `severity`. */
  readonly rank: number
  /** Anomaly score in [0,1]; null for alerts (a `score` condition never matches an alert). */
  readonly score: number | null
  readonly value: number | null
  /** Anomaly metric name; null for alerts. */
  readonly metric: string | null
  /**
   * Anomaly: names of the detectors that fired (raw ≥ threshold), highest score first.
   * Alert: the edge rule that raised it (the alert's detector).
   */
  readonly detectors: readonly string[]
  /** Alert rule name; null for anomalies. */
  readonly rule: string | null
  /** Anomaly labels or alert attrs. */
  readonly labels: Labels
  /** UTC hour of day of the event time, 0-23. */
  readonly hour: number
  /** `<kind>.<severity>.<source>`, what the `subject` condition matches (built on first use). */
  subject(): string
}

class View implements FactView {
  private subj: string | undefined
  constructor(
    readonly kind: 'anomaly' | 'alert',
    readonly lane: string,
    readonly source: string,
    readonly severity: Severity,
    readonly rank: number,
    readonly score: number | null,
    readonly value: number | null,
    readonly metric: string | null,
    readonly detectors: readonly string[],
    readonly rule: string | null,
    readonly labels: Labels,
    readonly hour: number,
  ) {}
  subject(): string {
    return (this.subj ??= `${this.kind}.${this.severity}.${this.source}`)
  }
}

const HOUR_MS = 3_600_000
const hourOf = (ts: number): number => Math.floor((((ts % 86_400_000) + 86_400_000) % 86_400_000) / HOUR_MS)

function firedDetectors(f: AnomalyFact): string[] {
  const ds = Array.isArray(f.payload.detectors) ? f.payload.detectors : []
  const fired = ds.filter((d) => d && typeof d.name === 'string' && d.raw >= d.threshold)
  fired.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return fired.map((d) => d.name)
}

function isLabels(v: unknown): v is Labels {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  for (const k in v) if (typeof (v as Record<string, unknown>)[k] !== 'string') return false
  return true
}

/** Builds the view of a fact, or says why the fact cannot be evaluated. Never throws. */
export function viewOf(f: AnomalyFact | AlertFact): { ok: true; value: FactView } | { ok: false; error: string } {
  if (f === null || typeof f !== 'object' || f.payload === null || typeof f.payload !== 'object') {
    return { ok: false, error: 'fact has no payload object' }
  }
  if (typeof f.source !== 'string' || f.source === '') return { ok: false, error: 'source: missing or not a string' }
  if (typeof f.ts !== 'number' || !Number.isSafeInteger(f.ts)) return { ok: false, error: `ts: ${shown(f.ts)} is not an integer epoch-ms time` }
  if (typeof f.id !== 'string' || f.id === '') return { ok: false, error: 'id: missing or not a string' }
  const severity = f.payload.severity
  const rank = typeof severity === 'string' && Object.hasOwn(SEVERITY_ORDER, severity) ? SEVERITY_ORDER[severity as Severity] : -1
  if (rank < 0) return { ok: false, error: `payload.severity: '${shown(severity)}' is not one of low, medium, high, critical` }
  const lane = typeof f.lane === 'string' ? f.lane : ''
  const hour = hourOf(f.ts)
  if (f.kind === 'anomaly') {
    const p = f.payload
    if (typeof p.score !== 'number' || Number.isNaN(p.score)) return { ok: false, error: 'payload.score: not a number' }
    if (typeof p.metric !== 'string') return { ok: false, error: 'payload.metric: not a string' }
    if (p.labels !== undefined && !isLabels(p.labels)) return { ok: false, error: 'payload.labels: must map names to strings' }
    const labels = p.labels ?? {}
    return {
      ok: true,
      value: new View(
        'anomaly',
        lane,
        f.source,
        severity as Severity,
        rank,
        p.score,
        typeof p.value === 'number' ? p.value : null,
        p.metric,
        firedDetectors(f),
        null,
        labels,
        hour,
      ),
    }
  }
  if (f.kind === 'alert') {
    const p = f.payload
    if (typeof p.rule !== 'string') return { ok: false, error: 'payload.rule: not a string' }
    if (p.attrs !== undefined && !isLabels(p.attrs)) return { ok: false, error: 'payload.attrs: must map names to strings' }
    const labels = p.attrs ?? {}
    return { ok: true, value: new View('alert', lane, f.source, severity as Severity, rank, null, null, null, [p.rule], p.rule, labels, hour) }
  }
  return { ok: false, error: `kind '${shown((f as { kind?: unknown }).kind)}' is not anomaly or alert` }
}
