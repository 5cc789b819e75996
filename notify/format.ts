import { createHash, createHmac } from 'node:crypto'
import type { NotifierConfig } from './config.js'
import type { Notable } from './filter.js'

const iso = (ms: number) => new Date(ms).toISOString()

function summary(x: Notable): string {
  const p = x.fact.payload as unknown as Record<string, unknown>
  switch (x.kind) {
    case 'anomaly':
      return `${x.severity} anomaly on ${x.source}: ${String(p.metric)} = ${String(p.value)} (score ${Number(p.score).toFixed(2)})`
    case 'incident':
      return `incident ${String(p.incidentId)} ${String(p.transition)} (${x.severity}): ${String(p.title)}`
    case 'proposal': {
      const c = p.command as { verb?: string; target?: string } | null
      return `proposed ${c?.verb ?? 'command'} on ${c?.target ?? x.source} by rule ${String(p.rule)}: needs approval`
    }
  }
}

/** The plain JSON notification: what, where, how bad, why (explain) and the fact itself. */
export function plainJson(x: Notable, notifier: string): Record<string, unknown> {
  return {
    notifier,
    kind: x.kind,
    severity: x.severity,
    source: x.source,
    ts: x.fact.ts,
    summary: summary(x),
    explain: x.fact.explain,
    factId: x.fact.id,
    lineage: x.fact.lineage,
    payload: x.fact.payload,
  }
}

/**
 * The Alertmanager webhook payload (version 4), one alert per fact, so any receiver that
 * takes Alertmanager's webhooks takes Ben's. Incidents that are resolved are sent `resolved`.
 */
export function alertmanager(x: Notable, c: NotifierConfig): Record<string, unknown> {
  const p = x.fact.payload as unknown as Record<string, unknown>
  const resolved = x.kind === 'incident' && p.transition === 'resolved'
  const labels: Record<string, string> = { alertname: `ben_${x.kind}`, severity: x.severity, source: x.source }
  if (x.kind === 'anomaly') labels.metric = String(p.metric)
  if (x.kind === 'incident') labels.incident = String(p.incidentId)
  if (x.kind === 'proposal') labels.rule = String(p.rule)
  const status = resolved ? 'resolved' : 'firing'
  const alert = {
    status,
    labels,
    annotations: { summary: summary(x), description: x.fact.explain ?? '', fact_id: x.fact.id },
    startsAt: iso(x.kind === 'incident' ? Number(p.openedAt) || x.fact.ts : x.fact.ts),
    endsAt: resolved ? iso(x.fact.ts) : '0001-01-01T00:00:00Z',
    generatorURL: c.externalUrl ? `${c.externalUrl.replace(/\/$/, '')}/facts/${encodeURIComponent(x.fact.id)}` : '',
    fingerprint: createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16),
  }
  return {
    version: '4',
    groupKey: `{}:{alertname="${labels.alertname}",source="${x.source}"}`,
    truncatedAlerts: 0,
    status,
    receiver: c.name,
    groupLabels: { alertname: labels.alertname, source: x.source },
    commonLabels: labels,
    commonAnnotations: alert.annotations,
    externalURL: c.externalUrl,
    alerts: [alert],
  }
}

export function renderBody(x: Notable, c: NotifierConfig): string {
  return JSON.stringify(c.format === 'alertmanager' ? alertmanager(x, c) : plainJson(x, c.name))
}

/** `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<body>`): receivers recompute it and compare (and refuse old timestamps). */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}
