import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from './paths.js'
import { FactCodec } from './codec.js'
import type { AckFact, AlertFact, AnomalyFact, CommandFact, DecisionFact, DiagFact, EventFact, Fact, IncidentFact, MetricFact } from './types.js'

// One fully-populated sample per kind. TypeScript checks each sample against its type (a field
// missing from the type, or missing from the sample, fails `npm run typecheck`); the test below
// checks the sample's field names against the .avsc, so the two cannot drift apart.
const base = { id: 'x', ts: 1, source: 's', lineage: ['p'], producer: 'edge', config: { 'ben-policy': 1 }, explain: 'e' }
const raw = { ...base, redactions: [{ field: 'message', rule: 'email', count: 1 }] }
const samples: Record<string, Fact> = {
  metric: { ...raw, lane: 'routine', kind: 'metric', payload: { name: 'n', value: 1, labels: {} } } satisfies MetricFact,
  event: { ...raw, lane: 'routine', kind: 'event', payload: { type: 't', message: 'm', attrs: {} } } satisfies EventFact,
  diag: { ...raw, lane: 'routine', kind: 'diag', payload: { component: 'c', message: 'm', attrs: {} } } satisfies DiagFact,
  alert: { ...raw, lane: 'alert', kind: 'alert', payload: { rule: 'r', severity: 'high', message: 'm', attrs: {} } } satisfies AlertFact,
  anomaly: {
    ...base,
    lane: 'anomaly',
    kind: 'anomaly',
    payload: {
      metric: 'm',
      value: 1,
      score: 0.9,
      threshold: 0.5,
      detectors: [{ name: 'ewma', score: 0.9, raw: 5, threshold: 3 }],
      baseline: { centre: 1, spread: 0.1 },
      severity: 'high',
      labels: {},
    },
  } satisfies AnomalyFact,
  decision: {
    ...base,
    lane: 'anomaly',
    kind: 'decision',
    payload: {
      outcome: 'act',
      rule: 'r',
      pack: 'p',
      packRevision: 1,
      severity: 'high',
      command: { verb: 'v', target: 't', args: '{}' },
      limits: [{ name: 'rate', allowed: true, detail: 'd' }],
      suppressed: 0,
      reason: 'why',
      labels: {},
    },
  } satisfies DecisionFact,
  command: {
    ...base,
    lane: 'control',
    kind: 'command',
    payload: {
      status: 'issued',
      commandId: 'c',
      target: 't',
      verb: 'v',
      args: '{}',
      issuedAt: 1,
      expiresAt: 2,
      nonce: 'n',
      keyId: 'k',
      decisionId: 'd',
      signatures: [{ keyId: 'k', role: 'issuer', sig: Buffer.from([1]) }],
      reason: null,
      required: [],
    },
  } satisfies CommandFact,
  ack: {
    ...base,
    lane: 'control',
    kind: 'ack',
    payload: { commandId: 'c', target: 't', verb: 'v', status: 'executed', reason: null, keyId: 'k', sig: Buffer.from([1]) },
  } satisfies AckFact,
  incident: {
    ...base,
    lane: 'anomaly',
    kind: 'incident',
    payload: { incidentId: 'i', transition: 'opened', severity: 'high', entity: { source: 's' }, openedAt: 1, updatedAt: 2, factIds: ['a'], title: 't' },
  } satisfies IncidentFact,
}

type AvroField = { name: string; type: unknown }
function recordFields(t: unknown): AvroField[] | undefined {
  if (Array.isArray(t)) return t.map(recordFields).find(Boolean)
  if (t && typeof t === 'object') {
    const o = t as { type?: unknown; fields?: AvroField[]; items?: unknown }
    if (o.type === 'record') return o.fields
    if (o.type === 'array') return recordFields(o.items)
  }
  return undefined
}

function compare(path: string, value: unknown, fields: AvroField[]): void {
  expect(Object.keys(value as object).sort(), path).toEqual(fields.map((f) => f.name).sort())
  for (const f of fields) {
    const nested = recordFields(f.type)
    let v = (value as Record<string, unknown>)[f.name]
    if (Array.isArray(v)) v = v[0]
    if (nested && v && typeof v === 'object') compare(`${path}.${f.name}`, v, nested)
  }
}

describe('TypeScript types match the Avro schemas', () => {
  it.each(Object.keys(samples))('%s', (kind) => {
    const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas', `${kind}.avsc`), 'utf8')) as { fields: AvroField[] }
    compare(kind, samples[kind], schema.fields)
    const codec = new FactCodec()
    const enc = codec.encode(samples[kind])
    expect(codec.decode(enc.data, enc.fingerprint).ok).toBe(true)
  })
})
