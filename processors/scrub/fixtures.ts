import type { AlertFact, DiagFact, EventFact, MetricFact, RawFact } from '../../schemas/index.js'
import { compileManifest, versioned, type CompiledManifest } from './index.js'
import type { Versioned } from '../stage.js'

/** Shared builders for the scrub tests. */
export const TEST_KEY = 'scrub-test-hash-key-0123456789'

export function compiled(obj: unknown = {}): CompiledManifest {
  const r = compileManifest(obj, { hashKey: TEST_KEY })
  if (!r.ok) throw r.error
  return r.value
}
export const cfg = (obj: unknown = {}, revision = 3): Versioned<CompiledManifest> => versioned(compiled(obj), revision)

const base = { ts: 1763700000100, source: 'web-3', lineage: [], producer: 'edge', config: {}, explain: null, redactions: [] }

export function event(message: string, attrs: Record<string, string> = {}, id = 'evt-1'): EventFact {
  return { ...base, id, lane: 'routine', kind: 'event', payload: { type: 'auth.login', message, attrs } }
}
export function metric(labels: Record<string, string>, id = 'met-1'): MetricFact {
  return { ...base, id, lane: 'routine', kind: 'metric', payload: { name: 'cpu.load', value: 0.73, labels } }
}
export function diag(message: string, attrs: Record<string, string> = {}, id = 'diag-1'): DiagFact {
  return { ...base, id, lane: 'routine', kind: 'diag', payload: { component: 'disk', message, attrs } }
}
export function alert(message: string, attrs: Record<string, string> = {}, id = 'alert-1'): AlertFact {
  return { ...base, id, lane: 'alert', kind: 'alert', payload: { rule: 'edr.exec', severity: 'high', message, attrs } }
}
export const payloadOf = (f: RawFact): Record<string, unknown> => f.payload as unknown as Record<string, unknown>
