/**
 * Scrub throughput: facts/s for event facts (a ~100-character log line and four attrs, one of
 * them hashed) under the default manifest (every built-in detector and the ~400-format provider
 * catalogue). Workloads: typical log lines, lines full of secret look-alikes (ids, digests,
 * placeholders), and a mix where 10% of facts carry a secret from the labelled corpus.
 * Compared in the same run with a regex-per-rule baseline: every detector's regex (built-ins
 * and catalogue) applied in turn with String.replace — no keyword automaton, no merging.
 *
 * What is timed is exactly what the spine's scrub service runs per fact: `scrubStage.step`
 * (checks, field rules, detectors, redaction records, explain text, the derived fact and its
 * id), on one thread, so every figure is per core. Two rates per row: facts per wall-clock
 * second (best round) and facts per CPU-second of this process (process.cpuUsage, best round),
 * which a busy machine disturbs much less; the load average is printed beside them.
 *
 *   npm run build && node dist/bench/scrub.js [facts] [rounds]
 * Prints a table and a final JSON line {"bench":"scrub",...}.
 */
import type { EventFact } from '../schemas/index.js'
import { defaultManifest, scrubStage, versioned } from '../processors/scrub/index.js'
import { buildCorpus } from './corpus/generate.js'
import { BUILTIN_DETECTORS, DETECTOR_NAMES } from '../processors/scrub/detectors.js'
import { catalogueSpec, CatalogueEntry } from '../processors/scrub/catalogue.js'
import { defaultManifestText } from '../processors/scrub/default-manifest.js'
import { parse } from 'yaml'
import { availableParallelism, loadavg } from 'node:os'

const FACTS = Number(process.argv[2] ?? 20_000)
const ROUNDS = Number(process.argv[3] ?? 5)
const KEY = 'bench-hash-key-0123456789abcdef'

// a deterministic LCG for the bench inputs
let seed = 12345
const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('')
const COMPONENTS = ['api', 'billing', 'gateway', 'worker', 'scheduler', 'ingest', 'payments', 'auth']
const TYPICAL = [
  () => `GET /api/v1/orders/${Math.floor(rnd() * 1e6)} 200 ${Math.floor(rnd() * 900)}ms`,
  () => `connection pool size=32 idle=${Math.floor(rnd() * 32)} waiting=0`,
  () => `user login succeeded for account ${Math.floor(rnd() * 1e5)} via sso`,
  () => `retrying request after backoff ${Math.floor(rnd() * 2000)}ms (attempt 2 of 5)`,
  () => `GC pause ${(rnd() * 40).toFixed(1)}ms heap=${Math.floor(rnd() * 900)}MiB`,
  () => `reconciled ${Math.floor(rnd() * 50)} objects in namespace default`,
  () => `cache miss for key user:${Math.floor(rnd() * 1e5)}:profile, loading from db`,
  () => `published ${Math.floor(rnd() * 500)} events to topic orders.created`,
  () => `upstream responded 503, circuit breaker half-open`,
  () => `scheduled job nightly-report finished in ${Math.floor(rnd() * 60)}s`,
  () => `token refresh scheduled in 3600s for session`,
  () => `password policy check passed for tenant ${Math.floor(rnd() * 100)}`,
]
const LOOK_ALIKES = [
  () => `trace_id=${hex(32)} span_id=${hex(16)} handled POST /checkout`,
  () => `deployed commit ${hex(40)} to production`,
  () => `request_id=${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)} status=200`,
  () => `image digest sha256:${hex(64)} pulled`,
  () => `API_TOKEN=\${API_TOKEN} password=var.db_password key=<your-api-key>`,
  () => `max_tokens=4096 tokenizer=cl100k_base cache_key=user:42`,
  () => `agent version 1.${Math.floor(rnd() * 30)}.3.${Math.floor(rnd() * 999)} on 10.0.${Math.floor(rnd() * 255)}.7`,
]

function header(): string {
  return `2025-06-01T10:${String(Math.floor(rnd() * 60)).padStart(2, '0')}:00.${Math.floor(rnd() * 999)}Z ${pick(['INFO', 'WARN', 'DEBUG'])} [${pick(COMPONENTS)}] `
}

function facts(secretRate: number, lookAlikeRate: number): EventFact[] {
  seed = 12345
  const secrets = buildCorpus({ seed: 7, perPair: 1 }).filter((s) => s.kind !== 'negative' && s.kind !== 'attr')
  const out: EventFact[] = []
  for (let i = 0; i < FACTS; i++) {
    const r = rnd()
    let line = header() + (r < lookAlikeRate ? pick(LOOK_ALIKES)() : pick(TYPICAL)())
    if ((i * 7919) % 100 < secretRate * 100) line = header() + secrets[(i * 31) % secrets.length].message
    out.push({
      id: `bench-${i}`,
      ts: 1763700000000 + i,
      source: 'web-3',
      lane: 'routine',
      kind: 'event',
      // flat strings, as Avro decoding yields
      payload: {
        type: 'app.log',
        message: Buffer.from(line).toString(),
        attrs: { user: `user-${i % 500}`, path: `/api/v1/items/${i % 977}`, method: 'GET', status: String(200 + (i % 5)) },
      },
      lineage: [],
      producer: 'edge',
      config: {},
      explain: null,
      redactions: [],
    })
  }
  return out
}

/** Every rule's regex in turn over each free-text field, replaced by its placeholder. */
function perRule(f: EventFact, res: ReadonlyArray<{ re: RegExp; ph: string }>): EventFact {
  const scrubText = (s: string): string => {
    for (const { re, ph } of res) s = s.replace(re, ph)
    return s
  }
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(f.payload.attrs)) attrs[k] = scrubText(v)
  return { ...f, payload: { ...f.payload, message: scrubText(f.payload.message), attrs } }
}

interface Measured {
  name: string
  factsPerSec: number
  nsPerFact: number
  /** Facts per CPU-second of this process (user + system time): load-independent, per core. */
  factsPerCpuSec: number
}

// No forced full GC between measurements: V8 may drop compiled regex code at a full collection,
// so the next run would pay for recompiling the detectors (not something the stage does per fact).
function measure(name: string, input: readonly EventFact[], run: (f: EventFact) => unknown): Measured {
  for (let i = 0; i < Math.min(2000, input.length); i++) run(input[i]) // warm-up
  let best = Infinity
  let bestCpu = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < input.length; i++) run(input[i])
    const ns = Number(process.hrtime.bigint() - t0)
    const c = process.cpuUsage(c0)
    if (ns < best) best = ns
    const cpuNs = (c.user + c.system) * 1000
    if (cpuNs > 0 && cpuNs < bestCpu) bestCpu = cpuNs
  }
  return { name, factsPerSec: Math.round((input.length / best) * 1e9), nsPerFact: Math.round(best / input.length), factsPerCpuSec: Math.round((input.length / bestCpu) * 1e9) }
}

const manifest = versioned(defaultManifest({ hashKey: KEY }), 1)
const catalogue = ((parse(defaultManifestText()) as { detectors: { catalogue: unknown[] } }).detectors.catalogue ?? []).map((e) => catalogueSpec(CatalogueEntry.parse(e)))
const rules = [...DETECTOR_NAMES.map((n) => BUILTIN_DETECTORS[n]), ...catalogue].map((d) => ({ re: new RegExp(d.source, d.flags), ph: `[${d.name}]` }))

const results: Record<string, Record<string, Omit<Measured, 'name'>>> = {}
const rows: string[][] = [['workload', 'implementation', 'facts/s', 'ns/fact', 'facts/CPU-s']]
const loadBefore = loadavg()[0]
const WORKLOADS = [
  ['typical', 0, 0.15],
  ['look-alikes', 0, 0.9],
  ['mixed-10%', 0.1, 0.15],
] as const
// Every scrub run first, then the baselines: the regex-per-rule runs leave a heap full of garbage
// whose collection would otherwise be charged to the next workload's scrub run.
const inputs = WORKLOADS.map(([workload, rate, lookAlikes]) => ({ workload, input: facts(rate, lookAlikes) }))
const SCRUB = 'scrub (keyword automaton)'
const BASELINE = `regex per rule (${rules.length})`
const measured: Record<string, Measured[]> = {}
for (const { workload, input } of inputs) measured[workload] = [measure(SCRUB, input, (f) => scrubStage.step(null, f, manifest))]
for (const { workload, input } of inputs) measured[workload].push(measure(BASELINE, input.slice(0, Math.ceil(input.length / 10)), (f) => perRule(f, rules)))
for (const { workload, input } of inputs) {
  const avgLen = Math.round(input.reduce((n, f) => n + f.payload.message.length, 0) / input.length)
  results[workload] = {}
  for (const m of measured[workload]) {
    results[workload][m.name] = { factsPerSec: m.factsPerSec, nsPerFact: m.nsPerFact, factsPerCpuSec: m.factsPerCpuSec }
    rows.push([`${workload} (msg ~${avgLen} chars)`, m.name, m.factsPerSec.toLocaleString('en'), String(m.nsPerFact), m.factsPerCpuSec.toLocaleString('en')])
  }
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
for (const r of rows) console.log(r.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  '))
const names = Object.keys(results.typical)
const load = [loadBefore, loadavg()[0]].map((x) => +x.toFixed(1))
const AIMS = { typical: 250_000, 'mixed-10%': 150_000 } as Record<string, number>
console.log(
  `one thread (per core); load average ${load[0]} → ${load[1]} on ${availableParallelism()} CPUs (figures under load are low: compare the ratio to the baseline, and facts/CPU-s)`,
)
for (const [wl, aim] of Object.entries(AIMS)) {
  const r = results[wl][names[0]]
  console.log(
    `aim ${wl}: ≥ ${aim.toLocaleString('en')} facts/s — measured ${r.factsPerSec.toLocaleString('en')}/s wall, ${r.factsPerCpuSec.toLocaleString('en')}/CPU-s: ${r.factsPerCpuSec >= aim ? 'met per CPU-second' : 'NOT met'}`,
  )
}
console.log(
  JSON.stringify({
    bench: 'scrub',
    facts: FACTS,
    rounds: ROUNDS,
    node: process.version,
    rules: rules.length,
    perCore: true,
    loadAverage: load,
    cpus: availableParallelism(),
    results,
    speedupVsRegexPerRule: Object.fromEntries(WORKLOADS.map(([wl]) => [wl, +(results[wl][names[0]].factsPerSec / results[wl][names[1]].factsPerSec).toFixed(1)])),
    cpuSpeedupVsRegexPerRule: Object.fromEntries(WORKLOADS.map(([wl]) => [wl, +(results[wl][names[0]].factsPerCpuSec / results[wl][names[1]].factsPerCpuSec).toFixed(1)])),
  }),
)
