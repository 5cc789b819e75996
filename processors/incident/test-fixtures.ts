/** Fact builders and the golden scenario for the incident tests (not part of the public door). */
import { actConfig, actStage } from '../act/index.js'
import { generateKeyPair, signAck } from '../../keys/index.js'
import { derivedId, hashId, type AckFact, type AlertFact, type AnomalyFact, type CommandFact, type DecisionFact, type LimitCheck } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import { compileIncidentConfig, type IncidentConfig } from './config.js'
import type { IncidentInput } from './view.js'

/** 2025-11-21T04:40:00.000Z */
export const T0 = Date.UTC(2025, 10, 21, 4, 40, 0)
export const MIN = 60_000

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
/** Deterministic keys (fixed 32-byte seeds): Ed25519 signatures are deterministic too. */
export const ISSUER = generateKeyPair('issuer', seed(11))
export const SIDECAR = generateKeyPair('sidecar', seed(13))

export function cfg(spec: Record<string, unknown> = {}, revision = 4): Versioned<IncidentConfig> {
  const r = compileIncidentConfig(spec)
  if (!r.ok) throw r.error
  return { bucket: 'ben-incidents', revision, value: r.value }
}

export function anomaly(
  id: string,
  ts: number,
  o: { source?: string; metric?: string; value?: number; score?: number; severity?: string; labels?: Record<string, string>; lineage?: string[]; explain?: string } = {},
): AnomalyFact {
  const score = o.score ?? 0.97
  return {
    id,
    ts,
    source: o.source ?? 'web-3',
    lane: 'anomaly',
    kind: 'anomaly',
    payload: {
      metric: o.metric ?? 'cpu.load',
      value: o.value ?? 0.99,
      score,
      threshold: 0.5,
      detectors: [
        { name: 'ewma', score, raw: 13.6, threshold: 3 },
        { name: 'mad', score: 0.41, raw: 2.5, threshold: 3 },
      ],
      baseline: { centre: 0.31, spread: 0.05 },
      severity: o.severity ?? 'critical',
      labels: o.labels ?? { job: 'batch-7' },
    },
    lineage: o.lineage ?? [],
    producer: 'detect@1',
    config: { 'ben-detectors': 1 },
    explain: o.explain ?? `cpu.load on web-3 was ${o.value ?? 0.99}, 13.6σ above its EWMA baseline of 0.31 ± 0.05 (score ${score} ≥ 0.5, ${o.severity ?? 'critical'}).`,
  }
}

export function alert(
  id: string,
  ts: number,
  o: { source?: string; rule?: string; severity?: string; attrs?: Record<string, string>; message?: string; lineage?: string[] } = {},
): AlertFact {
  return {
    id,
    ts,
    source: o.source ?? 'web-3',
    lane: 'alert',
    kind: 'alert',
    payload: {
      rule: o.rule ?? 'edr.exec',
      severity: o.severity ?? 'high',
      message: o.message ?? 'unexpected binary /tmp/x started',
      attrs: o.attrs ?? { job: 'batch-7', path: '/tmp/x' },
    },
    lineage: o.lineage ?? [],
    producer: 'scrub@1',
    config: { 'ben-redaction': 1 },
    explain: null,
    redactions: [],
  }
}

const LIMITS: LimitCheck[] = [
  { name: 'forbidden', allowed: true, detail: 'neither verb throttle_job nor target web-3 is forbidden' },
  { name: 'rate-limit', allowed: true, detail: '1 per 10m for throttle_job on web-3: token taken, 0 left' },
]

export function decision(
  id: string,
  ts: number,
  o: { source?: string; basis?: string[]; outcome?: string; labels?: Record<string, string>; suppressed?: number; severity?: string; command?: null } = {},
): DecisionFact {
  const outcome = o.outcome ?? 'act'
  return {
    id,
    ts,
    source: o.source ?? 'web-3',
    lane: 'anomaly',
    kind: 'decision',
    payload: {
      outcome,
      rule: 'critical-cpu-throttle',
      pack: 'default',
      packRevision: 3,
      severity: o.severity ?? 'critical',
      command: o.command === null ? null : { verb: 'throttle_job', target: o.source ?? 'web-3', args: '{"factor":0.5,"job":"batch-7"}' },
      limits: o.suppressed ? [{ name: 'suppression', allowed: false, detail: 'repeat of an earlier decision' }] : LIMITS,
      suppressed: o.suppressed ?? 0,
      reason: `rule 'critical-cpu-throttle' matched: ${outcome}: throttle_job on web-3`,
      labels: o.labels ?? { job: 'batch-7' },
    },
    lineage: o.basis ?? [],
    producer: 'policy@1',
    config: { 'ben-policy': 3 },
    explain: 'test decision',
  }
}

const ACT = (() => {
  const c = actConfig({ issuer: ISSUER, defaultTtlMs: 300_000 })
  if (!c.ok) throw c.error
  return { bucket: 'ben-keys', revision: 2, value: c.value }
})()

/** The command the real act stage signs for a decision (deterministic: fixed key, Ed25519). */
export function commandFor(d: DecisionFact): CommandFact {
  const r = actStage.step(actStage.initialState(), d, ACT)
  if (r.out.length !== 1) throw new Error(`act made ${r.out.length} commands for ${d.id}: ${r.rejected?.message ?? ''}`)
  return r.out[0] as CommandFact
}

export const ackFor = (c: CommandFact, ts: number, status: 'executed' | 'refused' | 'failed' = 'executed', reason: string | null = null): AckFact =>
  signAck(c, status, reason, SIDECAR, ts)

/**
 * The golden scenario: an edge alert and two anomalies on web-3 job batch-7, a policy decision
 * to throttle the job, the signed command, the executed ack, and (29 and 30 minutes on)
 * anomalies on two other hosts: event-time clocks are kept per source, so it takes a second
 * host past the quiet period (not one host running ahead) to resolve the quiet incident.
 */
export function goldenScenario(): IncidentInput[] {
  const a = alert(hashId('golden', 'alert'), T0, { lineage: [hashId('golden', 'raw-alert')] })
  const x1 = anomaly(hashId('golden', 'anomaly-1'), T0 + 1 * MIN, { value: 0.97, score: 0.93, severity: 'high', lineage: [hashId('golden', 'metric-1')] })
  const x2 = anomaly(hashId('golden', 'anomaly-2'), T0 + 2 * MIN, { value: 0.99, score: 0.98, severity: 'critical', lineage: [hashId('golden', 'metric-2')] })
  const d = decision(derivedId('policy', '1', 3, [x2.id]), x2.ts, { basis: [x2.id] })
  const c = commandFor(d)
  const k = ackFor(c, T0 + 2 * MIN + 5_000)
  const peer = anomaly(hashId('golden', 'anomaly-cache'), T0 + 29 * MIN, {
    source: 'cache-1',
    metric: 'mem.used',
    value: 0.88,
    score: 0.55,
    severity: 'medium',
    labels: {},
    lineage: [hashId('golden', 'metric-4')],
    explain: 'mem.used on cache-1 was 0.88, 3.9σ above its EWMA baseline of 0.7 ± 0.05 (score 0.55 ≥ 0.5, medium).',
  })
  const later = anomaly(hashId('golden', 'anomaly-db'), T0 + 30 * MIN, {
    source: 'db-1',
    metric: 'disk.used',
    value: 0.91,
    score: 0.6,
    severity: 'medium',
    labels: {},
    lineage: [hashId('golden', 'metric-3')],
    explain: 'disk.used on db-1 was 0.91, 4.1σ above its EWMA baseline of 0.7 ± 0.05 (score 0.6 ≥ 0.5, medium).',
  })
  return [a, x1, x2, d, c, k, peer, later]
}
