/**
 * The alert lane's per-hop breakdown from a BEN_ALERT_TRACE file (processors/runner/alert-trace.ts):
 * `node dist/bench/alert-trace.js <file> [phase]` prints, for every hop an alert goes through (publish,
 * PubAck at the feed, stored in FACTS, delivered to scrub's alert lane, scrubbed fact published,
 * its PubAck, stored in DERIVED, delivered to policy, decision published, its PubAck), the time
 * since the alert's publish (p50 / p99 / max) and since the hop before (p50 / p99 / max), over the
 * alerts that went through every hop. Run with the bench:
 * `BEN_ALERT_TRACE=/tmp/alerts.trace BENCH_LOADS=flood node dist/bench/latency.js`.
 */
import { readFileSync } from 'node:fs'

/** The hops of an alert, each with the hop it follows from (its cause). */
export const TRACE_HOPS = [
  ['scrub.stored', 'feed.publish'], // stored in FACTS (the server's timestamp)
  ['feed.puback', 'scrub.stored'], // the feed has its PubAck
  ['scrub.delivered', 'scrub.stored'], // delivered to scrub's alert lane (the thread has it)
  ['scrub.published', 'scrub.delivered'], // scrubbed, its output written to the socket
  ['policy.stored', 'scrub.published'], // the scrubbed alert stored in DERIVED (the server's timestamp)
  ['scrub.puback', 'scrub.published'], // scrub has its PubAck
  ['policy.delivered', 'scrub.published'], // policy has it, delivered from DERIVED
  ['policy.published', 'policy.delivered'], // decided, the decision written to the socket
  ['policy.puback', 'policy.published'], // policy has the decision's PubAck (stored in DERIVED)
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

/**
 * Per alert, the first time of each hop; then the breakdown over alerts that have every hop. The
 * bench writes `<ms> phase <load> -` lines: with `phase`, only the alerts published in that phase.
 */
export function breakdown(text: string, phase?: string): { alerts: number; complete: number; rows: HopRow[] } {
  const at = new Map<string, Map<string, number>>()
  let current: string | undefined
  for (const line of text.split('\n')) {
    const [t, hop, stage, id] = line.split(' ')
    if (!id) continue
    if (hop === 'phase') {
      current = stage
      continue
    }
    let m = at.get(id)
    if (!m) {
      // An alert belongs to the phase it was published in.
      if (phase !== undefined && current !== phase) continue
      at.set(id, (m = new Map<string, number>()))
    }
    const k = `${stage}.${hop}`
    if (!m.has(k)) m.set(k, Number(t))
  }
  const complete = [...at.values()].filter((m) => m.has('feed.publish') && TRACE_HOPS.every(([h]) => m.has(h)))
  const rows = TRACE_HOPS.map(([hop, prev]) => ({
    hop: `${prev} → ${hop}`,
    n: complete.length,
    fromPublish: fig(complete.map((m) => m.get(hop)! - m.get('feed.publish')!)),
    fromPrevious: fig(complete.map((m) => m.get(hop)! - m.get(prev)!)),
  }))
  return { alerts: at.size, complete: complete.length, rows }
}

if (process.argv[1]?.endsWith('alert-trace.js')) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node dist/bench/alert-trace.js <BEN_ALERT_TRACE file> [phase]\n')
    process.exit(2)
  }
  const b = breakdown(readFileSync(file, 'utf8'), process.argv[3])
  process.stdout.write(`alerts traced ${b.alerts}, through every hop ${b.complete}\n`)
  process.stdout.write(`${'hop'.padEnd(38)}${'since publish p50/p99/max'.padEnd(27)}this hop p50/p99/max\n`)
  for (const r of b.rows) process.stdout.write(`${r.hop.padEnd(38)}${r.fromPublish.join(' / ').padEnd(27)}${r.fromPrevious.join(' / ')}\n`)
  process.stdout.write(
    JSON.stringify({
      bench: 'alert-trace',
      complete: b.complete,
      hops: Object.fromEntries(b.rows.map((r) => [r.hop, { fromPublish: r.fromPublish, fromPrevious: r.fromPrevious }])),
    }) + '\n',
  )
}
