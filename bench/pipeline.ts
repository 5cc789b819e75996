/**
 * bench:pipeline — facts/s sustained through scrub → detect → policy → act (+ incident) with
 * projection into ClickHouse, for 60 s, against a baseline in the same run (the same facts
 * through the projector alone, no stages); then the latency from publish to anomaly fact at
 * 10,000 facts/s (p50, p99), with RSS at start and end. Prints a table, then one JSON line.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'hdr-histogram-js'
import { jetstreamManager } from '@nats-io/jetstream'
import { readEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { defaultServices } from '../cli/up.js'
import { printTable } from '../cli/output.js'
import { followSubjects } from '../streams/index.js'
import type { AnomalyFact } from '../schemas/index.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 10_000)
/** Seconds of flat-out publishing that make the backlog (must outlast SECONDS of processing). */
const BACKLOG_SECONDS = Number(process.env.BENCH_BACKLOG_SECONDS ?? 15)
const feedScript = join(fileURLToPath(new URL('.', import.meta.url)), 'pipeline-feed.js')

function feed(url: string, rate: number, seconds: number, probe = false): Promise<{ sent: number; failed: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [feedScript, '--url', url, '--rate', String(rate), '--seconds', String(seconds), ...(probe ? ['--probe'] : [])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`feed exited ${code}`))))
  })
}

async function rows(r: Running, table: string): Promise<number> {
  const rs = await r.ctx.warehouse.client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })
  return Number((await rs.json<{ n: string }>())[0].n)
}

async function ackFloor(r: Running, stream: string, consumer: string): Promise<number> {
  const jsm = await jetstreamManager(r.ctx.nc)
  try {
    return (await jsm.consumers.info(stream, consumer)).ack_floor.stream_seq
  } catch {
    return 0
  }
}

async function start(home: string, services: Parameters<typeof startBen>[2]): Promise<Running> {
  return startBen({ ...readEnv({ BEN_HOME: home, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined, clickhouseUrl: process.env.BEN_CLICKHOUSE_URL }, silentLogger(), services)
}

/**
 * Sustained throughput without the load generator competing for the two cores: a backlog is
 * published first (Ben running without stages), then Ben restarts with `services` and the
 * facts it completes (rows in `facts`) are counted for SECONDS.
 */
async function sustained(
  home: string,
  services: Parameters<typeof startBen>[2],
  label: string,
  backlogSeconds: number,
): Promise<{ completed: number; perSecond: number; published: number; running: Running }> {
  const bare = await start(home, [])
  const fed = await feed(bare.endpoints.natsUrl, 0, backlogSeconds)
  await bare.stop()
  const running = await start(home, services)
  const t0 = performance.now()
  // Count for SECONDS, or until the backlog is done (then the rate is over the time it took).
  let completed = 0
  while (performance.now() - t0 < SECONDS * 1000) {
    await new Promise((res) => setTimeout(res, 500))
    completed = await rows(running, 'facts')
    if (completed >= fed.sent) break
  }
  const secs = (performance.now() - t0) / 1000
  process.stderr.write(`${label}: backlog ${fed.sent}, completed ${completed} in ${secs.toFixed(1)} s\n`)
  return { completed, perSecond: Math.round(completed / secs), published: fed.sent, running }
}

async function main(): Promise<void> {
  const rssStart = process.memoryUsage().rss

  // Baseline: the same backlog into the facts table by the projector alone (no stages).
  const homeA = mkdtempSync(join(tmpdir(), 'ben-bench-pipe-a-'))
  const { projectorService } = await import('../cli/services.js')
  const { factsProjection } = await import('../projections/index.js')
  const baseline = await sustained(homeA, [projectorService(factsProjection())], 'baseline (projector only)', BACKLOG_SECONDS)
  await baseline.running.stop()
  rmSync(homeA, { recursive: true, force: true })

  // The whole chain.
  const home = mkdtempSync(join(tmpdir(), 'ben-bench-pipe-'))
  const chain = await sustained(home, defaultServices(), 'pipeline', BACKLOG_SECONDS)
  const running = chain.running
  const rssPipelineStart = process.memoryUsage().rss
  let peak = rssPipelineStart
  const rssTimer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200)
  const detectFloor = await ackFloor(running, 'DERIVED', 'stage-detect-metric')
  const rssAfterSustained = process.memoryUsage().rss

  // Let the backlog drain before timing latency.
  const drainDeadline = Date.now() + 300_000
  for (;;) {
    const jsm = await jetstreamManager(running.ctx.nc)
    const pending = (await jsm.consumers.info('FACTS', 'stage-scrub-routine')).num_pending + (await jsm.consumers.info('DERIVED', 'stage-detect-metric')).num_pending
    if (pending === 0 || Date.now() > drainDeadline) break
    await new Promise((r) => setTimeout(r, 1000))
  }

  // Latency: publish → anomaly fact, at LATENCY_RATE facts/s with probe spikes.
  const hist = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 })
  const sub = followSubjects(running.ctx.nc, running.ctx.registry, 'ben.anomaly.*.probe', { deliver: 'new' }).subscribe((d) => {
    if (!d.result.ok) return
    const a = d.result.value as AnomalyFact
    hist.recordValue(Math.max(1, Date.now() - a.ts))
  })
  const lat = await feed(running.endpoints.natsUrl, LATENCY_RATE, 30, true)
  await new Promise((r) => setTimeout(r, 3000))
  sub.unsubscribe()
  clearInterval(rssTimer)
  const rssEnd = process.memoryUsage().rss
  await running.stop()
  rmSync(home, { recursive: true, force: true })

  const mb = (n: number) => Math.round(n / 1048576)
  const fig = {
    bench: 'pipeline',
    seconds: SECONDS,
    pipeline_facts_per_s: chain.perSecond,
    pipeline_completed: chain.completed,
    pipeline_published: chain.published,
    baseline_projector_only_facts_per_s: baseline.perSecond,
    ratio_to_baseline: +(chain.perSecond / Math.max(1, baseline.perSecond)).toFixed(2),
    detect_ack_floor: detectFloor,
    latency_rate: LATENCY_RATE,
    latency_published: lat.sent,
    latency_samples: hist.totalCount,
    latency_p50_ms: hist.getValueAtPercentile(50),
    latency_p99_ms: hist.getValueAtPercentile(99),
    latency_max_ms: hist.maxValue,
    rss_start_mb: mb(rssPipelineStart),
    rss_after_sustained_mb: mb(rssAfterSustained),
    rss_end_mb: mb(rssEnd),
    rss_peak_mb: mb(peak),
    rss_process_start_mb: mb(rssStart),
  }
  printTable(
    ['what', 'figure'],
    [
      [
        `scrub → detect → policy → act + incident + projection, ${SECONDS} s on a backlog`,
        `${fig.pipeline_facts_per_s.toLocaleString()} facts/s (${chain.completed} of a ${chain.published} backlog)`,
      ],
      ['baseline: projector only, same backlog', `${fig.baseline_projector_only_facts_per_s.toLocaleString()} facts/s`],
      ['pipeline / baseline', `${fig.ratio_to_baseline}×`],
      [
        `publish → anomaly at ${LATENCY_RATE.toLocaleString()} facts/s`,
        `p50 ${fig.latency_p50_ms} ms, p99 ${fig.latency_p99_ms} ms, max ${fig.latency_max_ms} ms (${fig.latency_samples} anomalies)`,
      ],
      ['RSS start / after sustained / end / peak', `${fig.rss_start_mb} / ${fig.rss_after_sustained_mb} / ${fig.rss_end_mb} / ${fig.rss_peak_mb} MiB`],
    ],
  )
  process.stdout.write(JSON.stringify(fig) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:pipeline failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
