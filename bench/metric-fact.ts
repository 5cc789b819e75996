import { parseEdgeFact, type RawFact } from '../schemas/index.js'

/** The publisher benches' fact: metric `i` of run `run`, from one of 50 sources (bench:ingest, bench/publisher-micro). */
export function metricFact(run: string, i: number): RawFact {
  const r = parseEdgeFact({
    lane: 'metric',
    source: `web-${i % 50}`,
    ts: 1_763_700_000_000 + i,
    name: 'cpu.load',
    value: (i % 1000) / 7,
    labels: { job: `batch-${i % 13}`, run },
    id: `${run}-${i}`,
  })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}
