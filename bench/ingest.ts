/**
 * bench:ingest — acknowledged, de-duplicated publish throughput of small facts: Ben's
 * publisher against the stock @nats-io/jetstream `js.publish` awaited in windows, on the
 * same nats-server in the same run; then the projector's facts/s into ClickHouse.
 * The best client baseline that runs here is nats.go (`PublishMsgAsync` with `Nats-Msg-Id`,
 * compiled at run time from bench/go/jspub.go); Ben and nats.go alternate in BENCH_ROUNDS rounds
 * (the order turns each round) and the ratio is the median of the per-round ratios. Each round also
 * reports CPU µs per fact of the publishing process and of nats-server, and write syscalls.
 * Prints a table, then one JSON line. Not a test: nothing here passes or fails.
 */
import { profiled } from './profile.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { headers as natsHeaders } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { build } from 'hdr-histogram-js'
import { FactCodec, Header, type RawFact } from '../schemas/index.js'
import { DeadLetters, factHeaders, factMsgId, FactPublisher, Subjects, type PublishOutcome, type PublishReport, StreamAdmin } from '../streams/index.js'
import { buildGoBaseline } from './go-baseline.js'
import { procCpu, procWrites, selfCpu } from './proc-cpu.js'
import { factsProjection, migrate, Projector } from '../projections/index.js'
import { openClickHouse, readEnv, startNatsServer } from '../infra/index.js'
import { printTable } from '../cli/output.js'
import { metricFact } from './metric-fact.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 1000)
/** Pending PubAcks for nats.go and Ben's publisher alike (nats.go's default is 4000). */
const GO_WINDOW = Number(process.env.BENCH_GO_WINDOW ?? 4096)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const log = (m: string) => process.stderr.write(`bench:ingest ${m}\n`)

const fact = metricFact

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  // A failed run stops its (detached) nats-server too.
  stopOnFailure = async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const nc = await connect({ servers: server.url })
  const subjects = new Subjects()
  const jsm = await jetstreamManager(nc)
  await (await StreamAdmin.open(nc)).ensureTopology({ subjects })
  const codec = new FactCodec()
  const sample = codec.encode(fact('x', 0))
  let peakRss = process.memoryUsage().rss
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)

  // Warm up both paths (JIT, connections).
  {
    const p = new FactPublisher(nc, subjects, codec)
    await p.publishAll(
      (function* () {
        for (let i = 0; i < 5000; i++) yield fact('warm', i)
      })(),
    )
    await p.close()
  }

  // Stock client: js.publish with msgID, awaited in windows of WINDOW promises (once: slow).
  const js = jetstream(nc)
  const stockFacts = Array.from({ length: N }, (_, i) => codec.encode(fact('stock', i)))
  let t0 = performance.now()
  for (let i = 0; i < N; i += WINDOW) {
    const batch: Promise<unknown>[] = []
    for (let j = i; j < Math.min(N, i + WINDOW); j++) {
      const e = stockFacts[j]
      // The same bytes and headers Ben sends (js.publish adds Nats-Msg-Id from msgID).
      const h = natsHeaders()
      h.set(Header.Schema, e.schema)
      h.set(Header.SchemaFp, e.fingerprint)
      batch.push(js.publish(`ben.fact.metric.web-${j % 50}`, e.data, { msgID: e.id, headers: h }))
    }
    await Promise.all(batch)
  }
  const stockSecs = (performance.now() - t0) / 1000
  const stockRate = N / stockSecs
  stockFacts.length = 0

  // Rounds, back to back: nats.go PublishMsgAsync (the best client baseline here), then Ben's
  // publisher on facts (Avro encode + headers + publish + PubAcks), then Ben's publisher on
  // pre-encoded bytes (what the Go client gets). Each round publishes distinct facts.
  const go = buildGoBaseline()
  if (!go.ok) process.stdout.write(`nats.go baseline skipped: ${go.reason}\n`)
  const rssBefore = process.memoryUsage().rss
  peakRss = rssBefore
  // BEN_PUBLISH_DELAY_MS as `ben` reads it (0: the whole window, as nats.go keeps it)
  const publisher = new FactPublisher(nc, subjects, codec, { window: GO_WINDOW, delayTargetMs: readEnv().publishDelayMs })
  const rounds: Array<{ go?: number; ben: number; benRaw: number; cpu: RoundCpu }> = []
  let report: PublishReport | undefined
  let benFacts: RawFact[] = []
  for (let r = 0; r < ROUNDS; r++) {
    let goRate: number | undefined
    let benRate = 0
    let rawRate = 0
    const cpu: RoundCpu = { goClient: NaN, goServer: NaN, ben: 0, benServer: 0, benRaw: 0, benRawServer: 0, goWrites: NaN, benWrites: 0 }
    const runGo = async () => {
      if (!go.ok) return
      const recs = Array.from({ length: N }, (_, i) => {
        const f = fact(`go${r}`, i)
        return { subject: subjects.forFact(f), id: factMsgId(f), data: codec.encode(f).data }
      })
      const s0 = procCpu(server.pid)
      const o = await go.run(server.url, recs, GO_WINDOW, sample.schema, sample.fingerprint)
      cpu.goServer = ((procCpu(server.pid) - s0) * 1e6) / N
      cpu.goClient = (o.cpuSecs * 1e6) / N
      cpu.goWrites = o.writes === undefined ? NaN : (o.writes * 1000) / N
      if (o.stored !== N || o.failed) throw new Error(`nats.go baseline stored ${o.stored} of ${N}, ${o.failed} failed`)
      goRate = N / o.secs
    }
    const runBen = async () => {
      // Facts are built (validated from the edge shape) before timing, as the Go client's bytes are.
      benFacts = Array.from({ length: N }, (_, i) => fact(`ben${r}`, i))
      global.gc?.()
      const c0 = selfCpu()
      const s0 = procCpu(server.pid)
      const w0 = procWrites(process.pid)
      t0 = performance.now()
      report = await profiled(r === ROUNDS - 1, () => publisher.publishAll(benFacts))
      benRate = N / ((performance.now() - t0) / 1000)
      cpu.ben = ((selfCpu() - c0) * 1e6) / N
      cpu.benServer = ((procCpu(server.pid) - s0) * 1e6) / N
      cpu.benWrites = ((procWrites(process.pid) - w0) * 1000) / N
      if (report.stored !== N) throw new Error(`Ben stored ${report.stored} of ${N}: ${JSON.stringify(report.failures.slice(0, 3))}`)
    }
    const runRaw = async () => {
      const raw = Array.from({ length: N }, (_, i) => {
        const f = fact(`raw${r}`, i)
        const e = codec.encode(f)
        return { subject: subjects.forFact(f), id: factMsgId(f), data: e.data }
      })
      global.gc?.()
      const c0 = selfCpu()
      const s0 = procCpu(server.pid)
      t0 = performance.now()
      let rawStored = 0
      const count = (o: PublishOutcome) => void (o.status === 'stored' && rawStored++)
      for (const m of raw) {
        const h = factHeaders(m.id, sample.schema, sample.fingerprint)
        if (!publisher.trySendRaw(m.subject, m.data, h, m.id, count)) await publisher.sendRaw(m.subject, m.data, h, m.id, count)
      }
      await publisher.flush()
      rawRate = N / ((performance.now() - t0) / 1000)
      cpu.benRaw = ((selfCpu() - c0) * 1e6) / N
      cpu.benRawServer = ((procCpu(server.pid) - s0) * 1e6) / N
      if (rawStored !== N) throw new Error(`Ben (pre-encoded) stored ${rawStored} of ${N}`)
    }
    // The order turns each round (no variant always runs after the same one).
    const phases = [runGo, runBen, runRaw]
    for (let k = 0; k < phases.length; k++) await phases[(k + r) % phases.length]()
    rounds.push({ go: goRate, ben: benRate, benRaw: rawRate, cpu })
    const us = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(1))
    log(
      `round ${r + 1}: nats.go ${goRate ? Math.round(goRate) : '-'}  Ben ${Math.round(benRate)}  Ben pre-encoded ${Math.round(rawRate)} msgs/s;` +
        ` CPU µs/fact client/nats-server: nats.go ${us(cpu.goClient)}/${us(cpu.goServer)}  Ben ${us(cpu.ben)}/${us(cpu.benServer)}  pre-encoded ${us(cpu.benRaw)}/${us(cpu.benRawServer)};` +
        ` write syscalls per 1000 facts: nats.go ${us(cpu.goWrites)}  Ben ${us(cpu.benWrites)}`,
    )
  }
  if (go.ok) go.close()
  const benPeakRss = peakRss
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const benRate = median(rounds.map((r) => r.ben))
  const benRawRate = median(rounds.map((r) => r.benRaw))
  const goRate = go.ok ? median(rounds.map((r) => r.go!)) : undefined
  const goRatio = go.ok ? median(rounds.map((r) => r.ben / r.go!)) : undefined
  const goRawRatio = go.ok ? median(rounds.map((r) => r.benRaw / r.go!)) : undefined
  const cpuMedian = (k: keyof RoundCpu) => +median(rounds.map((r) => r.cpu[k])).toFixed(1)
  const cpuFig = {
    go_client: cpuMedian('goClient'),
    go_server: cpuMedian('goServer'),
    ben: cpuMedian('ben'),
    ben_server: cpuMedian('benServer'),
    ben_preencoded: cpuMedian('benRaw'),
    ben_preencoded_server: cpuMedian('benRawServer'),
    go_writes_per_1000: cpuMedian('goWrites'),
    ben_writes_per_1000: cpuMedian('benWrites'),
  }
  const lat = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
  // Re-publishing the same facts: all duplicates, none stored.
  t0 = performance.now()
  const dup = await publisher.publishAll(benFacts)
  const dupSecs = (performance.now() - t0) / 1000
  // Single-fact latency through the publisher, unloaded.
  for (let i = 0; i < 2000; i++) {
    const s = performance.now()
    await publisher.publish(fact('lat', i))
    lat.recordValue(Math.round((performance.now() - s) * 1000))
  }
  await publisher.close()

  // Projector: FACTS into ClickHouse from the start, timed over the first BENCH_PROJECT_N facts.
  const info = await jsm.streams.info('FACTS')
  const total = Math.min(info.state.messages, Number(process.env.BENCH_PROJECT_N ?? 200_000))
  const wh = await openClickHouse(process.env.BEN_CLICKHOUSE_URL ? { url: process.env.BEN_CLICKHOUSE_URL } : { path: join(dir, 'ch') })
  await migrate(wh.client)
  const projector = new Projector(factsProjection(), wh.client)
  const dlqPub = new FactPublisher(nc, subjects, codec)
  t0 = performance.now()
  await projector.start(nc, codec, subjects, {}, new DeadLetters(dlqPub, subjects, codec, 'bench'))
  while (projector.stats.inserted + projector.stats.skippedExisting < total) await new Promise((r) => setTimeout(r, 20))
  const projected = projector.stats.inserted + projector.stats.skippedExisting
  const projSecs = (performance.now() - t0) / 1000
  await projector.stop()
  await dlqPub.close()
  await wh.close()
  clearInterval(rssTimer)

  const fig = {
    bench: 'ingest',
    facts: N,
    avro_bytes_per_fact: sample.data.length,
    rounds: ROUNDS,
    ben_facts_per_s: Math.round(benRate),
    ben_preencoded_per_s: Math.round(benRawRate),
    go_facts_per_s: goRate === undefined ? null : Math.round(goRate),
    go_window: GO_WINDOW,
    ratio_vs_go: goRatio === undefined ? null : +goRatio.toFixed(2),
    ratio_preencoded_vs_go: goRawRatio === undefined ? null : +goRawRatio.toFixed(2),
    go_skipped: go.ok ? null : go.reason,
    per_round: rounds.map((r) => ({ go: r.go ? Math.round(r.go) : null, ben: Math.round(r.ben), ben_preencoded: Math.round(r.benRaw) })),
    cpu_us_per_fact: cpuFig,
    cpu_ratio_vs_go: +(cpuFig.go_client / cpuFig.ben).toFixed(2),
    stock_facts_per_s: Math.round(stockRate),
    stock_window: WINDOW,
    ratio: +(benRate / stockRate).toFixed(2),
    ben_duplicate_republish_per_s: Math.round(N / dupSecs),
    ben_stored: report!.stored,
    ben_duplicates_on_republish: dup.duplicate,
    ben_failed: report!.failed + dup.failed,
    single_publish_p50_us: lat.getValueAtPercentile(50),
    single_publish_p99_us: lat.getValueAtPercentile(99),
    projector_facts: total,
    projector_facts_per_s: Math.round(projected / projSecs),
    peak_rss_mb: Math.round(benPeakRss / 1048576),
    rss_before_publish_mb: Math.round(rssBefore / 1048576),
    clickhouse: wh.kind,
  }
  printTable(
    ['what', 'figure'],
    [
      ['facts per run', N],
      ['Avro bytes per fact', fig.avro_bytes_per_fact],
      ['Ben publisher (acked, de-duplicated), median of rounds', `${fig.ben_facts_per_s.toLocaleString()} facts/s`],
      ['Ben publisher on pre-encoded bytes (sendRaw)', `${fig.ben_preencoded_per_s.toLocaleString()} facts/s`],
      [
        `nats.go PublishMsgAsync + Nats-Msg-Id, ${GO_WINDOW} pending`,
        goRate === undefined ? `skipped: ${go.ok ? '' : go.reason}` : `${fig.go_facts_per_s!.toLocaleString()} msgs/s`,
      ],
      ['ratio Ben / nats.go (median of per-round ratios)', goRatio === undefined ? '-' : `${fig.ratio_vs_go}× (pre-encoded ${fig.ratio_preencoded_vs_go}×)`],
      ['CPU µs/fact, client / nats-server (median of rounds): Ben facts', `${cpuFig.ben} / ${cpuFig.ben_server}`],
      ['  Ben pre-encoded', `${cpuFig.ben_preencoded} / ${cpuFig.ben_preencoded_server}`],
      ['  nats.go (pre-encoded bytes, same headers)', `${cpuFig.go_client} / ${cpuFig.go_server}`],
      [`stock js.publish, windows of ${WINDOW}`, `${fig.stock_facts_per_s.toLocaleString()} facts/s`],
      ['ratio Ben / stock', `${fig.ratio}×`],
      ['republish of the same facts (all duplicates)', `${fig.ben_duplicate_republish_per_s.toLocaleString()} facts/s, ${dup.duplicate} duplicates`],
      ['single publish latency p50 / p99', `${fig.single_publish_p50_us} / ${fig.single_publish_p99_us} µs`],
      [`projector into ClickHouse (${wh.kind})`, `${fig.projector_facts_per_s.toLocaleString()} facts/s (${total} facts)`],
      ['publisher peak RSS', `${fig.peak_rss_mb} MiB (before: ${fig.rss_before_publish_mb} MiB)`],
    ],
  )
  process.stdout.write(JSON.stringify(fig) + '\n')
  await nc.close()
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}

/** CPU µs per fact of one round: the publishing client's and nats-server's, per variant. */
interface RoundCpu {
  goClient: number
  goServer: number
  ben: number
  benServer: number
  benRaw: number
  benRawServer: number
  /** Write system calls per 1000 facts of the publishing process. */
  goWrites: number
  benWrites: number
}

let stopOnFailure: () => Promise<void> = async () => undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopOnFailure().finally(() => process.exit(130)))

main().catch(async (err) => {
  process.stderr.write(`bench:ingest failed: ${(err as Error).stack}\n`)
  await stopOnFailure().catch(() => undefined)
  process.exit(1)
})
