/**
 * bench:ingest — acknowledged, de-duplicated publish throughput of small facts: Ben's
 * publisher against the stock @nats-io/jetstream `js.publish` awaited in windows, on the
 * same nats-server in the same run; then the projector's facts/s into ClickHouse.
 * Prints a table, then one JSON line. Not a test: nothing here passes or fails.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { headers as natsHeaders } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { build } from 'hdr-histogram-js'
import { FactCodec, Header, parseEdgeFact, type RawFact } from '../schemas/index.js'
import { DeadLetters, ensureTopology, FactPublisher, Subjects } from '../streams/index.js'
import { factsProjection, migrate, Projector } from '../projections/index.js'
import { openClickHouse, startNatsServer } from '../infra/index.js'
import { printTable } from '../cli/output.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 1000)

function fact(run: string, i: number): RawFact {
  const r = parseEdgeFact({ lane: 'metric', source: `web-${i % 50}`, ts: 1_763_700_000_000 + i, name: 'cpu.load', value: (i % 1000) / 7, labels: { job: `batch-${i % 13}`, run }, id: `${run}-${i}` })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  const nc = await connect({ servers: server.url })
  const subjects = new Subjects()
  const jsm = await jetstreamManager(nc)
  await ensureTopology(nc, jsm, { subjects })
  const codec = new FactCodec()
  const sample = codec.encode(fact('x', 0))
  let peakRss = process.memoryUsage().rss
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)

  // Warm up both paths (JIT, connections).
  {
    const p = new FactPublisher(nc, subjects, codec)
    await p.publishAll((function* () { for (let i = 0; i < 5000; i++) yield fact('warm', i) })())
    await p.close()
  }

  // Stock client: js.publish with msgID, awaited in windows of WINDOW promises.
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

  // Ben's publisher: encode + publish + PubAcks through its window.
  const rssBefore = process.memoryUsage().rss
  peakRss = rssBefore
  const publisher = new FactPublisher(nc, subjects, codec)
  const lat = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
  // Facts are built (validated from the edge shape) before timing, as the stock client's bytes are.
  const benFacts = Array.from({ length: N }, (_, i) => fact('ben', i))
  t0 = performance.now()
  const report = await publisher.publishAll(benFacts)
  const benSecs = (performance.now() - t0) / 1000
  const benRate = N / benSecs
  const benPeakRss = peakRss
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

  // Projector: everything in FACTS into ClickHouse.
  const info = await jsm.streams.info('FACTS')
  const total = info.state.messages
  const wh = await openClickHouse(process.env.BEN_CLICKHOUSE_URL ? { url: process.env.BEN_CLICKHOUSE_URL } : { path: join(dir, 'ch') })
  await migrate(wh.client)
  const projector = new Projector(factsProjection(), wh.client)
  const dlqPub = new FactPublisher(nc, subjects, codec)
  t0 = performance.now()
  await projector.start(nc, codec, subjects, {}, new DeadLetters(dlqPub, subjects, codec, 'bench'))
  while (projector.stats.inserted + projector.stats.skippedExisting < total) await new Promise((r) => setTimeout(r, 20))
  const projSecs = (performance.now() - t0) / 1000
  await projector.stop()
  await dlqPub.close()
  await wh.close()
  clearInterval(rssTimer)

  const fig = {
    bench: 'ingest',
    facts: N,
    avro_bytes_per_fact: sample.data.length,
    ben_facts_per_s: Math.round(benRate),
    stock_facts_per_s: Math.round(stockRate),
    stock_window: WINDOW,
    ratio: +(benRate / stockRate).toFixed(2),
    ben_duplicate_republish_per_s: Math.round(N / dupSecs),
    ben_stored: report.stored,
    ben_duplicates_on_republish: dup.duplicate,
    ben_failed: report.failed + dup.failed,
    single_publish_p50_us: lat.getValueAtPercentile(50),
    single_publish_p99_us: lat.getValueAtPercentile(99),
    projector_facts: total,
    projector_facts_per_s: Math.round(total / projSecs),
    peak_rss_mb: Math.round(benPeakRss / 1048576),
    rss_before_publish_mb: Math.round(rssBefore / 1048576),
    clickhouse: wh.kind,
  }
  printTable(
    ['what', 'figure'],
    [
      ['facts per run', N],
      ['Avro bytes per fact', fig.avro_bytes_per_fact],
      ['Ben publisher (acked, de-duplicated)', `${fig.ben_facts_per_s.toLocaleString()} facts/s`],
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

main().catch((err) => {
  process.stderr.write(`bench:ingest failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
