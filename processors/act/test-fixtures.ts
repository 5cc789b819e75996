/** Keys, decisions and trust for the act tests (not part of the public door). */
import type { DecisionFact } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import { actConfig, type ActConfig, type VerbSettings } from './act-stage.js'
import { generateKeyPair } from '../../keys/index.js'
import { trustKey, trustStore } from '../../keys/index.js'

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)
export const ISSUER = generateKeyPair('issuer', seed(1))
export const OPERATOR = generateKeyPair('operator', seed(2))
export const SIDECAR = generateKeyPair('sidecar', seed(3))
/** Never registered. */
export const STRANGER = generateKeyPair('issuer', seed(4))
export const OPERATOR_2 = generateKeyPair('operator', seed(5))

export const TRUST = trustKey(trustStore([ISSUER, OPERATOR, OPERATOR_2]), SIDECAR, 'web-3')

export function decision(id: string, ts: number, o: { outcome?: string; verb?: string; target?: string; args?: string; suppressed?: number; command?: null } = {}): DecisionFact {
  return {
    id,
    ts,
    source: 'web-3',
    lane: 'anomaly',
    kind: 'decision',
    payload: {
      outcome: o.outcome ?? 'act',
      rule: 'critical-cpu-throttle',
      pack: 'default',
      packRevision: 3,
      severity: 'critical',
      command: o.command === null ? null : { verb: o.verb ?? 'throttle_job', target: o.target ?? 'web-3', args: o.args ?? '{"factor":0.5,"job":"batch-7"}' },
      limits: [],
      suppressed: o.suppressed ?? 0,
      reason: 'test',
      labels: { job: 'batch-7' },
    },
    lineage: ['a1'],
    producer: 'policy@1',
    config: { 'ben-policy': 3 },
    explain: 'test decision',
  }
}

export function config(settings: Record<string, VerbSettings> = { quarantine_artifact: { human: true, ttlMs: 3_600_000 } }, revision = 2): Versioned<ActConfig> {
  const c = actConfig({ issuer: ISSUER, settings, defaultTtlMs: 300_000 })
  if (!c.ok) throw c.error
  return { bucket: 'ben-keys', revision, value: c.value }
}
