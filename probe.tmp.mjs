const R = '/work/i15b/dist/'
const { defaultDetectorConfig, detectStage } = await import(R + 'processors/detect/index.js')
const N = Number(process.env.N ?? 2000), P = Number(process.env.P ?? 600)
const cfg = defaultDetectorConfig()
let state = detectStage.initialState()
const T0 = 1_763_700_000_000
let rnd = 12345
const next = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648
const fact = (s, p, value) => ({ id: `b-${s}-${p}`, ts: T0 + p * 10_000, source: `host-${Math.floor(s / 100)}`, lane: 'routine', kind: 'metric', payload: { name: `m${s % 10}`, value, labels: { shard: String(Math.floor(s / 10) % 10) } }, lineage: [], producer: 'bench', config: {}, explain: null, redactions: [] })
global.gc(); const m0 = process.memoryUsage()
const t0 = performance.now()
for (let p = 0; p < P; p++) for (let s = 0; s < N; s++) state = detectStage.step(state, fact(s, p, 10 + (s % 13) + next()), cfg).state
global.gc(); global.gc()
const m = process.memoryUsage()
console.log('build s', ((performance.now()-t0)/1000).toFixed(1))
for (const k of Object.keys(m)) console.log(k, Math.round(m[k]/1048576), 'MB', 'delta/series', Math.round((m[k]-m0[k])/N))
const v8 = await import('node:v8')
for (const s of v8.getHeapSpaceStatistics()) console.log(s.space_name, Math.round(s.space_used_size/1048576), '/', Math.round(s.space_size/1048576))
const rec = state.series.values().next().value
console.log(JSON.stringify(rec, (k, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.length})` : Array.isArray(v) && v.length > 8 ? `Array(${v.length})` : v), 1).slice(0, 6000))
if (process.env.SNAP) { v8.writeHeapSnapshot('/tmp/i15b/s.heapsnapshot'); }
{
  const { readFileSync } = await import('node:fs')
  const lines = readFileSync('/proc/self/smaps', 'utf8').split('\n')
  const agg = {}
  let name = ''
  for (const l of lines) {
    const m = l.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/)
    if (m) { name = m[1] || 'anon'; if (name.startsWith('/')) name = 'file'; continue }
    const r = l.match(/^Rss:\s+(\d+) kB/)
    if (r) agg[name] = (agg[name] ?? 0) + Number(r[1])
  }
  console.log('smaps MB', Object.fromEntries(Object.entries(agg).map(([k, v]) => [k, Math.round(v / 1024)])))
}
