/**
 * Scrub throughput: facts/s for a typical event fact (a ~100-character log line and four attrs,
 * one of them hashed), under the default manifest: typical clean lines, clean lines full of
 * secret look-alikes, and a mix where 10% of facts carry secrets. Compared in
 * the same run with two baselines:
 *   - no-prefilter: the same stage, compiled with `prefilter: false`, so every detector's regex
 *     runs on every scanned field;
 *   - naive: each detector regex applied in turn with String.replace (no prefilter, no merging).
 *
 *   npm run build && node dist/bench/scrub.js [facts] [rounds]
 * Prints a table and a final JSON line {"bench":"scrub",...}.
 */
import type { EventFact } from '../schemas/index.js'
import { BUILTIN_DETECTORS, DETECTOR_NAMES, defaultManifest, generateCorpus, scrubStage, versioned } from '../processors/scrub/index.js'

const FACTS = Number(process.argv[2] ?? 20_000)
const ROUNDS = Number(process.argv[3] ?? 5)
const KEY = 'bench-hash-key-0123456789abcdef'

function facts(secretRate: number, negativeRate: number): EventFact[] {
  const corpus = generateCorpus({ seed: 99, lines: FACTS * 3, secretRate: 0.35, negativeRate })
  const clean = corpus.filter((l) => l.secrets.length === 0)
  const dirty = corpus.filter((l) => l.secrets.length > 0)
  const out: EventFact[] = []
  for (let i = 0; i < FACTS; i++) {
    const useDirty = (i * 7919) % 100 < secretRate * 100
    // flat strings, as Avro decoding yields (the generator builds ropes by concatenation)
    const line = Buffer.from((useDirty ? dirty[i % dirty.length] : clean[i % clean.length]).text).toString()
    out.push({
      id: `bench-${i}`,
      ts: 1763700000000 + i,
      source: 'web-3',
      lane: 'routine',
      kind: 'event',
      payload: { type: 'app.log', message: line, attrs: { user: `user-${i % 500}`, path: `/api/v1/items/${i % 977}`, method: 'GET', status: String(200 + (i % 5)) } },
      lineage: [],
      producer: 'edge',
      config: {},
      explain: null,
      redactions: [],
    })
  }
  return out
}

/** Each detector regex in turn over each free-text field, replaced by its placeholder. */
function naiveScrub(f: EventFact, res: ReadonlyArray<{ re: RegExp; ph: string }>): EventFact {
  const scrubText = (s: string): string => {
    for (const { re, ph } of res) s = s.replace(re, ph)
    return s
  }
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(f.payload.attrs)) attrs[k] = scrubText(v)
  return { ...f, payload: { ...f.payload, message: scrubText(f.payload.message), attrs } }
}

function measure(name: string, input: readonly EventFact[], run: (f: EventFact) => unknown): { name: string; factsPerSec: number; nsPerFact: number } {
  for (let i = 0; i < Math.min(2000, input.length); i++) run(input[i]) // warm-up
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < input.length; i++) run(input[i])
    const ns = Number(process.hrtime.bigint() - t0)
    if (ns < best) best = ns
  }
  return { name, factsPerSec: Math.round((input.length / best) * 1e9), nsPerFact: Math.round(best / input.length) }
}

const withPrefilter = versioned(defaultManifest({ hashKey: KEY }), 1)
const noPrefilter = versioned(defaultManifest({ hashKey: KEY, prefilter: false }), 1)
const naiveRes = DETECTOR_NAMES.map((n) => ({ re: new RegExp(BUILTIN_DETECTORS[n].source, BUILTIN_DETECTORS[n].flags), ph: `[${n}]` }))

const results: Record<string, Record<string, { factsPerSec: number; nsPerFact: number }>> = {}
const rows: string[][] = [['workload', 'implementation', 'facts/s', 'ns/fact']]
const WORKLOADS = [
  // typical: a log header (timestamp, level, component) and plain messages, some look-alikes
  ['typical', 0, 0.15],
  // adversarial: no secrets, but most clauses are hard negatives (order ids, versions, UUIDs, digests…)
  ['look-alikes', 0, 0.9],
  // 10% of facts carry one or more secrets
  ['mixed-10%', 0.1, 0.15],
] as const
for (const [workload, rate, negatives] of WORKLOADS) {
  const input = facts(rate, negatives)
  const avgLen = Math.round(input.reduce((n, f) => n + f.payload.message.length, 0) / input.length)
  results[workload] = {}
  for (const m of [
    measure('scrub (prefilter)', input, (f) => scrubStage.step(null, f, withPrefilter)),
    measure('scrub (no prefilter)', input, (f) => scrubStage.step(null, f, noPrefilter)),
    measure('naive regex-by-regex', input, (f) => naiveScrub(f, naiveRes)),
  ]) {
    results[workload][m.name] = { factsPerSec: m.factsPerSec, nsPerFact: m.nsPerFact }
    rows.push([`${workload} (msg ~${avgLen} chars)`, m.name, m.factsPerSec.toLocaleString('en'), String(m.nsPerFact)])
  }
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
for (const r of rows) console.log(r.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  '))
const speedup = (wl: string, base: string): number => +(results[wl]['scrub (prefilter)'].factsPerSec / results[wl][base].factsPerSec).toFixed(2)
console.log(
  JSON.stringify({
    bench: 'scrub',
    facts: FACTS,
    rounds: ROUNDS,
    node: process.version,
    results,
    speedupVsNoPrefilter: Object.fromEntries(WORKLOADS.map(([wl]) => [wl, speedup(wl, 'scrub (no prefilter)')])),
    speedupVsNaive: Object.fromEntries(WORKLOADS.map(([wl]) => [wl, speedup(wl, 'naive regex-by-regex')])),
  }),
)
