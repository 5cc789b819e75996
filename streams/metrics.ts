import { Counter, Gauge, Registry } from 'prom-client'

/**
 * Ben's own metrics. Labels are low-cardinality by construction: stage names, reason codes
 * and statuses from fixed sets, never ids or sources.
 */
export const metricsRegistry = new Registry()

export const factsIn = new Counter({
  name: 'ben_stage_facts_in_total',
  help: 'Messages received by a stage or projector',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})
export const factsOut = new Counter({
  name: 'ben_stage_facts_out_total',
  help: 'Facts derived and published by a stage, or rows written by a projector',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})
export const factsRejected = new Counter({
  name: 'ben_stage_rejected_total',
  help: 'Inputs refused and sent to the DLQ, by stage and reason code',
  labelNames: ['stage', 'reason'] as const,
  registers: [metricsRegistry],
})
export const published = new Counter({
  name: 'ben_publish_total',
  help: 'Facts published, by outcome (stored, duplicate, failed)',
  labelNames: ['status'] as const,
  registers: [metricsRegistry],
})
export const consumerEvents = new Counter({
  name: 'ben_consumer_status_total',
  help: 'JetStream consumer status notifications, by type',
  labelNames: ['stage', 'type'] as const,
  registers: [metricsRegistry],
})
export const inFlight = new Gauge({
  name: 'ben_stage_in_flight',
  help: 'Inputs received but not yet acknowledged',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})
export const behindSeconds = new Gauge({
  name: 'ben_stage_behind_seconds',
  help: 'Age of the oldest input a stage has received but not applied yet (0 when caught up)',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})

/** Publish outcome children, resolved once (no label lookup per fact on the hot path). */
export const publishedBy = {
  stored: published.labels({ status: 'stored' }),
  duplicate: published.labels({ status: 'duplicate' }),
  failed: published.labels({ status: 'failed' }),
} as const
