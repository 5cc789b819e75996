import { Counter } from 'prom-client'
import { metricsRegistry } from '../../streams/index.js'

/** Counts not yet handed to the counter, by detector name (a fixed, small set per manifest). */
const pending = new Map<string, number>()

/**
 * Redactions by detector (a built-in, a catalogue format or a custom detector name: a fixed set
 * per manifest, never a value). Field rules (drop, mask, hash, truncate) are not detectors and
 * are not counted here; they are in each fact's `redactions`. The scrub hot path adds to a
 * plain map (`countRedactions`); the counter takes those counts whenever it is read (a scrape).
 */
export const redactionsTotal = new Counter({
  name: 'ben_scrub_redactions_total',
  help: 'Values redacted by the scrub stage (spine and sidecar), by detector',
  labelNames: ['detector'] as const,
  registers: [metricsRegistry],
  collect() {
    flushRedactionCounts()
  },
})

/** Adds `n` redactions by `detector` (one map update: labelled prom-client increments cost ~0.5 µs each). */
export function countRedactions(detector: string, n: number): void {
  pending.set(detector, (pending.get(detector) ?? 0) + n)
}

/** Hands the pending counts to the counter (it calls this itself whenever it is read). */
export function flushRedactionCounts(): void {
  if (pending.size === 0) return
  for (const [detector, n] of pending) redactionsTotal.inc({ detector }, n)
  pending.clear()
}
