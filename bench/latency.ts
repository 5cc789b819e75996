/**
 * bench:latency — per hop latency (p50/p99/max) from publish to each hop of the chain:
 * scrubbed, anomaly, decision, command, ack, and a ClickHouse row, under three loads (sparse:
 * 20 sources × 1 fact/s; bursty: 1,000 facts every 5 s; steady: 10,000 facts/s), then an
 * overload (a routine flood at 2× what the chain sustained under the steady load) where the
 * alert lane's publish → decision shows the lanes' priority. A hop's latency is the stream
 * time of the derived fact minus its event time (the feed stamps facts with their publish time).
 * Where the steady load is more than the chain sustains, the backlog growth is reported
 * instead of pretending to a latency. Prints a table, then one JSON line.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Histogram } from 'hdr-histogram-js'
import { jetstreamManager } from '@nats-io/jetstream'
import { readEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { defaultServices } from '../cli/up.js'
import { printTable } from '../cli/output.js'
import { followSubjects } from '../streams/index.js'
import { runSimulation } from '../simulate/index.js'
import type { Fact } from '../schemas/index.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 10_000)
const feedScript = join(fileURLToPath(new URL('.', import.meta.url)), 'latency-feed.js')
const HOPS = ['scrubbed', 'anomaly', 'decision', 'command', 'ack', 'clickhouse', 'alert→decision'] as const
type Hop = (typeof HOPS)[number]

function feed(url: string, load: string, seconds: number, rate = 0): Promise<{ sent: number; failed: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [feedScript, '--url', url, '--load', load, '--seconds', String(seconds), '--rate', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`feed exited ${code}`))))
  })
}

const hist = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 })

/** Inputs not delivered yet to scrub and detect (the backlog), and scrub's ack floor. */
async function pending(r: Running): Promise<{ scrub: number; detect: number; scrubFloor: number }> {
  const jsm = await jetstreamManager(r.ctx.nc)
  const info = async (s: string, c: string) => jsm.consumers.info(s, c).catch(() => undefined)
  const scrub = await info('FACTS', 'stage-scrub-routine')
  const detect = await info('DERIVED', 'stage-detect-metric')
  return { scrub: scrub?.num_pending ?? 0, detect: detect?.num_pending ?? 0, scrubFloor: scrub?.ack_floor.stream_seq ?? 0 }
}

async function drain(r: Running, maxMs = 300_000): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const p = await pending(r)
    if (p.scrub + p.detect === 0 || Date.now() - t0 > maxMs) return Date.now() - t0
    await new Promise((res) => setTimeout(res, 500))
  }
}

interface Phase {
  readonly load: string
  readonly rate: number
  readonly sent: number
  readonly seconds: number
  readonly hops: Record<Hop, { n: number; p50: number; p99: number; max: number }>
  /** Inputs of scrub + detect not yet done, at the end of the feed, and how fast that grew. */
  readonly backlog: number
  readonly backlogPerS: number
  /** Facts/s through scrub during the phase. */
  readonly scrubbedPerS: number
  readonly drainMs: number
}

async function phase(r: Running, load: string, rate: number): Promise<Phase> {
  const h = Object.fromEntries(HOPS.map((k) => [k, hist()])) as Record<Hop, Histogram>
  const rec = (hop: Hop, ms: number) => h[hop].recordValue(Math.max(1, Math.round(ms)))
  const t0 = Date.now()
  // Scrubbed: the probes and alerts (web-1, web-2) only; the routine load is counted, not followed.
  const scrubbedOf = (d: { result: { ok: boolean; value?: unknown }; time: number }) => d.result.ok && rec('scrubbed', d.time - (d.result.value as Fact).ts)
  const subs = [
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.scrubbed.*.web-1', { deliver: 'new' }).subscribe(scrubbedOf),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.scrubbed.*.web-2', { deliver: 'new' }).subscribe(scrubbedOf),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.anomaly.>', { deliver: 'new' }).subscribe((d) => d.result.ok && rec('anomaly', d.time - (d.result.value as Fact).ts)),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.decision.>', { deliver: 'new' }).subscribe((d) => {
      if (!d.result.ok) return
      const f = d.result.value as Fact
      rec(d.subject.endsWith('.web-2') ? 'alert→decision' : 'decision', d.time - f.ts)
    }),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.cmd.>', { deliver: 'new' }).subscribe((d) => d.result.ok && rec('command', d.time - (d.result.value as Fact).ts)),
  ]
  // The ack's ts is the target's clock: measure it from the command's event time.
  const cmdTs = new Map<string, number>()
  subs.push(
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.cmd.>', { deliver: 'new' }).subscribe((d) => {
      if (d.result.ok) cmdTs.set((d.result.value as Fact).id, (d.result.value as Fact).ts)
    }),
    followSubjects(r.ctx.nc, r.ctx.registry, 'ben.ack.>', { deliver: 'new' }).subscribe((d) => {
      if (!d.result.ok) return
      const ts = cmdTs.get((d.result.value as Fact).lineage[0])
      if (ts !== undefined) rec('ack', d.time - ts)
    }),
  )
  // ClickHouse: probe rows polled every 100 ms (the figure includes up to 100 ms of polling).
  let chFrom = t0
  let polling = true
  const poll = (async () => {
    while (polling) {
      const rs = await r.ctx.warehouse.client.query({ query: `SELECT toUnixTimestamp64Milli(ts) AS t FROM facts WHERE source = 'web-2' AND ts > fromUnixTimestamp64Milli(${chFrom})`, format: 'JSONEachRow' })
      const now = Date.now()
      for (const row of await rs.json<{ t: string }>()) {
        const t = Number(row.t)
        rec('clickhouse', now - t)
        chFrom = Math.max(chFrom, t)
      }
      await new Promise((res) => setTimeout(res, 100))
    }
  })()
  const before = await pending(r)
  const fed = await feed(r.endpoints.natsUrl, load, SECONDS, rate)
  const after = await pending(r)
  const feedSeconds = (Date.now() - t0) / 1000
  const scrubbedPerS = Math.round((after.scrubFloor - before.scrubFloor) / feedSeconds)
  const drainMs = await drain(r)
  // What was published during the feed has come out of every hop (or the drain gave up).
  await new Promise((res) => setTimeout(res, 1500))
  polling = false
  await poll
  for (const s of subs) s.unsubscribe()
  const backlog = after.scrub + after.detect
  return {
    load,
    rate,
    sent: fed.sent,
    seconds: fed.seconds,
    hops: Object.fromEntries(HOPS.map((k) => [k, { n: h[k].totalCount, p50: h[k].getValueAtPercentile(50), p99: h[k].getValueAtPercentile(99), max: h[k].maxValue }])) as Phase['hops'],
    backlog,
    // Growth under 1 % of what was sent is noise (a pull in flight), not a backlog.
    backlogPerS: backlog - before.scrub - before.detect > fed.sent / 100 ? Math.round((backlog - before.scrub - before.detect) / fed.seconds) : 0,
    scrubbedPerS,
    drainMs,
  }
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-lat-'))
  const running = await startBen({ ...readEnv({ BEN_HOME: home, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined, clickhouseUrl: process.env.BEN_CLICKHOUSE_URL }, silentLogger(), defaultServices())
  // Targets that verify and ack the commands (hosts web-1, web-2); they publish no telemetry.
  const sim = await runSimulation({ nc: running.ctx.nc, subjects: running.ctx.subjects, codec: running.ctx.codec, topo: {} }, { hosts: 2, rate: 1, durationMs: 1, mode: 'backfill', scenarios: [], seed: 'bench' })
  const phases: Phase[] = []
  try {
    for (const [load, rate] of [
      ['sparse', 0],
      ['bursty', 0],
      ['steady', STEADY_RATE],
    ] as const) {
      process.stderr.write(`bench:latency: ${load} load for ${SECONDS} s…\n`)
      phases.push(await phase(running, load, rate))
    }
    // Overload: a routine flood at 2× what the chain sustained under the steady load.
    const steady = phases[2]
    const capacity = Math.max(1000, steady.backlogPerS > 0 ? steady.scrubbedPerS : STEADY_RATE)
    process.stderr.write(`bench:latency: flood at ${2 * capacity} facts/s (2× ${capacity}) for ${SECONDS} s…\n`)
    phases.push(await phase(running, 'flood', 2 * capacity))
  } finally {
    await sim.stop()
    await running.stop()
    rmSync(home, { recursive: true, force: true })
  }

  const cell = (x: { n: number; p50: number; p99: number; max: number }) => (x.n ? `${x.p50} / ${x.p99} / ${x.max} (${x.n})` : '—')
  printTable(
    ['load', ...HOPS.map((h) => `${h} ms p50/p99/max (n)`), 'backlog growth'],
    phases.map((p) => [
      `${p.load}${p.rate ? ` ${p.rate}/s` : ''}`,
      ...HOPS.map((h) => cell(p.hops[h])),
      p.backlogPerS > 0 ? `+${p.backlogPerS}/s (not sustained: ${p.scrubbedPerS}/s scrubbed; drained in ${(p.drainMs / 1000).toFixed(1)} s)` : 'none',
    ]),
  )
  const fig: Record<string, unknown> = { bench: 'latency', seconds: SECONDS }
  for (const p of phases) {
    for (const h of HOPS) {
      const key = `${p.load}_${h.replace('→', '_to_')}`
      fig[`${key}_n`] = p.hops[h].n
      fig[`${key}_p50_ms`] = p.hops[h].p50
      fig[`${key}_p99_ms`] = p.hops[h].p99
      fig[`${key}_max_ms`] = p.hops[h].max
    }
    fig[`${p.load}_rate`] = p.rate
    fig[`${p.load}_sent`] = p.sent
    fig[`${p.load}_scrubbed_per_s`] = p.scrubbedPerS
    fig[`${p.load}_backlog_growth_per_s`] = p.backlogPerS
    fig[`${p.load}_sustained`] = p.backlogPerS <= 0
  }
  process.stdout.write(JSON.stringify(fig) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:latency failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
