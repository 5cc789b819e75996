/** Fact builders for the policy tests (not part of the public door). */
import type { AlertFact, AnomalyFact, DetectorScore } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import { loadPolicyPack, type CompiledPack } from './pack.js'

export function anomaly(
  id: string,
  ts: number,
  o: { source?: string; metric?: string; score?: number; severity?: string; labels?: Record<string, string>; detectors?: DetectorScore[] } = {},
): AnomalyFact {
  return {
    id,
    ts,
    source: o.source ?? 'web-3',
    lane: 'anomaly',
    kind: 'anomaly',
    payload: {
      metric: o.metric ?? 'cpu.load',
      value: 0.99,
      score: o.score ?? 0.97,
      threshold: 0.5,
      detectors: o.detectors ?? [{ name: 'ewma', score: o.score ?? 0.97, raw: 9, threshold: 3 }],
      baseline: { centre: 0.3, spread: 0.1 },
      severity: o.severity ?? 'critical',
      labels: o.labels ?? { job: 'batch-7' },
    },
    lineage: [],
    producer: 'detect@1',
    config: { 'ben-detectors': 1 },
    explain: 'cpu.load far above its baseline',
  }
}

export function alert(id: string, ts: number, o: { source?: string; rule?: string; severity?: string; attrs?: Record<string, string> } = {}): AlertFact {
  return {
    id,
    ts,
    source: o.source ?? 'web-3',
    lane: 'alert',
    kind: 'alert',
    payload: { rule: o.rule ?? 'secret.leak', severity: o.severity ?? 'high', message: 'AWS key in artifact', attrs: o.attrs ?? { path: '/srv/app/.env' } },
    lineage: [],
    producer: 'edge',
    config: {},
    explain: null,
    redactions: [],
  }
}

/** Compiles a pack or fails the test with the pack's own message. */
export function pack(yaml: string, revision = 7): Versioned<CompiledPack> {
  const r = loadPolicyPack(yaml)
  if (!r.ok) throw new Error(r.error.message)
  return { bucket: 'ben-policy', revision, value: r.value }
}
