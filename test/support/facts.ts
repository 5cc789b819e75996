import { parseEdgeFact, type RawFact } from '../../schemas/index.js'

/** A metric fact in the edge shape, converted as the edge converts it (content id). */
export function metricFact(i: number, source = `web-${i % 10}`, base = 1_763_700_000_000): RawFact {
  const r = parseEdgeFact({ lane: 'metric', source, ts: base + i, name: 'cpu.load', value: (i % 100) / 10, labels: { job: `batch-${i % 7}` } })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

export function* metricFacts(n: number, start = 0): Generator<RawFact> {
  for (let i = start; i < start + n; i++) yield metricFact(i)
}
