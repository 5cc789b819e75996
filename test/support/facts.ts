import { parseEdgeFact, type MetricFact, type RawFact } from '../../schemas/index.js'

/** A metric fact in the edge shape, converted as the edge converts it (content id). */
export function metricFact(i: number, source = `web-${i % 10}`, base = 1_763_700_000_000): RawFact {
  const r = parseEdgeFact({ lane: 'metric', source, ts: base + i, name: 'cpu.load', value: (i % 100) / 10, labels: { job: `batch-${i % 7}` } })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

export function* metricFacts(n: number, start = 0): Generator<RawFact> {
  for (let i = start; i < start + n; i++) yield metricFact(i)
}

/**
 * One metric fact a minute from web-1 for each name, `values[i][k]` the k-th value of `names[i]`, in
 * the scrubbed shape detect reads: the points interleaved by minute.
 */
export function minuteMetricFacts(names: readonly string[], values: readonly (readonly number[])[], t0: number): MetricFact[] {
  const facts: MetricFact[] = []
  for (let k = 0; k < values[0].length; k++)
    for (let i = 0; i < names.length; i++)
      facts.push({
        id: `f${k}-${i}`,
        ts: t0 + k * 60_000,
        source: 'web-1',
        lane: 'routine',
        kind: 'metric',
        payload: { name: names[i], value: values[i][k], labels: {} },
        lineage: [],
        producer: 'edge',
        config: {},
        explain: null,
        redactions: [],
      } as MetricFact)
  return facts
}
