import type { CompiledRule } from './pack.js'
import type { FactView } from './view.js'

/**
 * True when every condition of the rule holds for the fact (absent conditions hold).
 * - `detector`: anomaly: any fired detector (raw ≥ threshold) has a matching name;
 *   alert: the alert's rule name matches.
 * - `metric`, `score`: anomalies only; a rule with either never matches an alert.
 * - `severity`, `score`: minimums (critical ≥ high ≥ medium ≥ low).
 * - `labels`: each key must be present and its value match the glob.
 * - `hours`: UTC hour of the event time in [from, to), wrapping past midnight when from > to.
 */
export function matches(r: CompiledRule, f: FactView): boolean {
  if (r.kind !== null && r.kind !== f.kind) return false
  if (f.rank < r.minRank) return false
  if (r.minScore !== null && (f.score === null || !(f.score >= r.minScore))) return false
  if (r.source !== null && !r.source.test(f.source)) return false
  if (r.lane !== null && !r.lane.test(f.lane)) return false
  if (r.metric !== null && (f.metric === null || !r.metric.test(f.metric))) return false
  if (r.detector !== null) {
    let any = false
    for (const d of f.detectors) {
      if (r.detector.test(d)) {
        any = true
        break
      }
    }
    if (!any) return false
  }
  for (const [k, m] of r.labels) {
    if (!Object.hasOwn(f.labels, k)) return false
    const v = f.labels[k]
    if (typeof v !== 'string' || !m.test(v)) return false
  }
  if (r.hours !== null) {
    const { from, to } = r.hours
    const inside = from < to ? f.hour >= from && f.hour < to : f.hour >= from || f.hour < to
    if (!inside) return false
  }
  if (r.subject !== null && !r.subject.test(f.subject())) return false
  return true
}

/** The first rule, in pack order, whose conditions hold. */
export function firstMatchingRule(rules: readonly CompiledRule[], f: FactView): CompiledRule | undefined {
  for (const r of rules) if (matches(r, f)) return r
  return undefined
}
