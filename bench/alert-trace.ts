/**
 * The alert lane's per-hop breakdown from a BEN_ALERT_TRACE file (processors/runner/alert-trace.ts):
 * `node dist/bench/alert-trace.js <file>` prints, for every hop an alert goes through (publish,
 * PubAck at the feed, stored in FACTS, delivered to scrub's alert lane, scrubbed fact published,
 * its PubAck, stored in DERIVED, delivered to policy, decision published, its PubAck), the time
 * since the alert's publish (p50 / p99 / max) and since the hop before (p50 / p99 / max), over the
 * alerts that went through every hop. Run with the bench:
 * `BEN_ALERT_TRACE=/tmp/alerts.trace BENCH_LOADS=flood node dist/bench/latency.js`.
 */
import { readFileSync } from 'node:fs'

export const TRACE_HOPS = [
  'feed.puback',
  'scrub.stored',
  'scrub.delivered',
  'scrub.published',
  'scrub.puback',
  'policy.stored',
  'policy.delivered',
  'policy.published',
  'policy.puback',
] as const

export interface HopRow {
  readonly hop: string
  readonly n: number
  readonly fromPublish: readonly [number, number, number]
  readonly fromPrevious: readonly [number, number, number]
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))]
const fig = (xs: number[]): [number, number, number] => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? [pct(s, 50), pct(s, 99), s[s.length - 1]] : [NaN, NaN, NaN]
}

/** Per alert, the first time of each hop; then the breakdown over alerts that have every hop. */
export function breakdown(text: string): { alerts: number; complete: number; rows: HopRow[] } {
  const at = new Map<string, Map<string, number>>()
  for (const line of text.split('\n')) {
    const [t, hop, stage, id] = line.split(' ')
    if (!id) continue
    const m = at.get(id) ?? new Map<string, number>()
    const k = `${stage}.${hop}`
    if (!m.has(k)) m.set(k, Number(t))
    at.set(id, m)
  }
  const complete = [...at.values()].filter((m) => m.has('feed.publish') && TRACE_HOPS.every((h) => m.has(h)))
  const rows = TRACE_HOPS.map((hop, i) => {
    const prev = i === 0 ? 'feed.publish' : TRACE_HOPS[i - 1]
    return {
      hop,
      n: complete.length,
      fromPublish: fig(complete.map((m) => m.get(hop)! - m.get('feed.publish')!)),
      fromPrevious: fig(complete.map((m) => m.get(hop)! - m.get(prev)!)),
    }
  })
  return { alerts: at.size, complete: complete.length, rows }
}

if (process.argv[1]?.endsWith('alert-trace.js')) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node dist/bench/alert-trace.js <BEN_ALERT_TRACE file>\n')
    process.exit(2)
  }
  const b = breakdown(readFileSync(file, 'utf8'))
  process.stdout.write(`alerts traced ${b.alerts}, through every hop ${b.complete}\n`)
  process.stdout.write(`hop                 from publish p50/p99/max   from previous p50/p99/max\n`)
  for (const r of b.rows) process.stdout.write(`${r.hop.padEnd(20)}${r.fromPublish.join(' / ').padEnd(27)}${r.fromPrevious.join(' / ')}\n`)
  process.stdout.write(JSON.stringify({ bench: 'alert-trace', complete: b.complete, hops: Object.fromEntries(b.rows.map((r) => [r.hop, { fromPublish: r.fromPublish, fromPrevious: r.fromPrevious }])) }) + '\n')
}
