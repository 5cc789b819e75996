import { Counter, Gauge, Registry } from 'prom-client'

/**
 * Ben's own metrics. Labels are low-cardinality by construction: stage names, reason codes
 * and statuses from fixed sets, never ids or sources.
 */
export const metricsRegistry = new Registry()

/** A label child that adds into a plain number; the metric takes it in when read. */
export interface Tally {
  inc(n?: number): void
  dec(n?: number): void
}

class TallyImpl implements Tally {
  pending = 0
  constructor(readonly labels: Record<string, string>) {}
  inc(n = 1): void {
    this.pending += n
  }
  dec(n = 1): void {
    this.pending -= n
  }
}

const tallies = new WeakMap<object, Map<string, TallyImpl>>()

/**
 * A counter's or gauge's child for the hot path: prom-client's own children hash their labels
 * into a new string on every `inc` (several per fact per consumer, a measurable share of the
 * garbage). A tally adds into a number; prom-client calls the metric's `collect` before every
 * read (scrape, `get()`), which takes the tallies in. Only for metrics declared with that
 * `collect` below.
 */
export function tally(metric: Counter<string> | Gauge<string>, labels: Record<string, string>): Tally {
  let l = tallies.get(metric)
  if (!l) tallies.set(metric, (l = new Map()))
  // one per label set, however many consumers ask for it
  const key = JSON.stringify(Object.entries(labels).sort())
  let t = l.get(key)
  if (!t) l.set(key, (t = new TallyImpl(labels)))
  return t
}

function takeTallies(metric: Counter<string> | Gauge<string>): void {
  for (const t of tallies.get(metric)?.values() ?? []) {
    const n = t.pending
    if (n === 0) continue
    t.pending = 0
    if (n > 0) metric.inc(t.labels, n)
    else (metric as Gauge<string>).dec(t.labels, -n)
  }
}

export const factsIn = new Counter({
  name: 'ben_stage_facts_in_total',
  help: 'Messages received by a stage or projector',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
  collect() {
    takeTallies(this)
  },
})
export const factsOut = new Counter({
  name: 'ben_stage_facts_out_total',
  help: 'Facts derived and published by a stage, or rows written by a projector',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
  collect() {
    takeTallies(this)
  },
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
  collect() {
    takeTallies(this)
  },
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
  collect() {
    takeTallies(this)
  },
})
export const behindSeconds = new Gauge({
  name: 'ben_stage_behind_seconds',
  help: 'Age of the oldest input a stage has received but not applied yet (0 when caught up)',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})

/** Publish outcome children, resolved once (no label lookup per fact on the hot path). */
export const publishedBy = {
  stored: tally(published, { status: 'stored' }),
  duplicate: tally(published, { status: 'duplicate' }),
  failed: tally(published, { status: 'failed' }),
} as const

/** A metric as `Registry.getMetricsAsJSON()` gives it (what a stage thread sends its process). */
export interface MetricSnapshot {
  readonly name: string
  readonly type: string
  readonly values: ReadonlyArray<{ readonly value: number; readonly labels: Readonly<Record<string, string | number>> }>
}

/** Per thread (`from`), the last value of each counter and gauge series it reported. */
const absorbed = new Map<string, Map<string, number>>()

/**
 * Takes a stage thread's metrics (processors/wiring/alert-path.ts) into this process's registry, so
 * that `ben up --metrics` shows the stages that run in threads like those on the main thread:
 * counters grow by what the thread's grew since its last report (a restarted thread starts again
 * from 0), a gauge is the sum of the latest values of every thread and of this one's own. Only
 * counters and gauges that this registry declares are taken in.
 */
export function absorbMetrics(from: string, snapshot: readonly MetricSnapshot[]): void {
  let last = absorbed.get(from)
  if (!last) absorbed.set(from, (last = new Map()))
  for (const m of snapshot) {
    const metric = metricsRegistry.getSingleMetric(m.name)
    if (!(metric instanceof Counter) && !(metric instanceof Gauge)) continue
    for (const v of m.values) {
      const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]))
      const key = `${m.name}\u0000${JSON.stringify(Object.entries(labels).sort())}`
      const before = last.get(key) ?? 0
      last.set(key, v.value)
      if (metric instanceof Counter) {
        const grew = v.value >= before ? v.value - before : v.value
        if (grew > 0) metric.inc(labels, grew)
      } else if (v.value !== before) metric.inc(labels, v.value - before)
    }
  }
}
