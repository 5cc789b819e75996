import { Counter } from 'prom-client'
import { metricsRegistry } from '../streams/index.js'

/** What the doors count. Labels: door (ndjson, otlp, syslog, scrape), lane, reason — fixed sets. */
export const intakeReceived = new Counter({
  name: 'ben_intake_received_total',
  help: 'Records received by an intake door (OTLP log records and data points, syslog messages, scraped samples)',
  labelNames: ['door'] as const,
  registers: [metricsRegistry],
})
export const intakeAccepted = new Counter({
  name: 'ben_intake_facts_total',
  help: 'Facts accepted by an intake door (durable in JetStream or in the sidecar WAL), by door and lane',
  labelNames: ['door', 'lane'] as const,
  registers: [metricsRegistry],
})
export const intakeDropped = new Counter({
  name: 'ben_intake_dropped_total',
  help: 'Records or requests an intake door dropped or refused, by door and reason',
  labelNames: ['door', 'reason'] as const,
  registers: [metricsRegistry],
})
