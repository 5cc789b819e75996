import { Counter } from 'prom-client'
import { metricsRegistry } from '../../streams/index.js'

/**
 * Redactions by detector (a built-in, a catalogue format or a custom detector name: a fixed set
 * per manifest, never a value). Field rules (drop, mask, hash, truncate) are not detectors and
 * are not counted here; they are in each fact's `redactions`.
 */
export const redactionsTotal = new Counter({
  name: 'ben_scrub_redactions_total',
  help: 'Values redacted by the scrub stage (spine and sidecar), by detector',
  labelNames: ['detector'] as const,
  registers: [metricsRegistry],
})
