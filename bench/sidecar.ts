/**
 * bench:sidecar — what the sidecar costs and how fast it catches up.
 *
 * 1. Intake (SDK `accept`, batches of 100: validate with zod, scrub with the default manifest,
 *    Avro-encode, append to the WAL and wait until durable), NATS not connected, under the
 *    default fsync policy (`batch`) and with `always`, with 1 and 8 producers.
 * 2. End to end: accept → stored in JetStream (PubAck'd), against the bare FactPublisher
 *    publishing the same facts with no WAL (the baseline), on the same nats-server: with
 *    the facts validated before timing (the publish ceiling), and with the edge validation
 *    (parseEdgeFact) in the timed loop but no scrub and no WAL.
 * 3. Backlog: fill the WAL with 1,000,000 facts while NATS is unreachable, then connect and
 *    time the drain, against the bare FactPublisher publishing 1,000,000 facts (validated and
 *    encoded on the fly: the drain sends bytes that were encoded at intake).
 *
 * Prints a table, then one JSON line. Not a test: nothing here passes or fails.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/sidecar.js
 *   BENCH_N (default 200,000) facts per intake run; BENCH_DRAIN_N (default 1,000,000) the backlog.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { FactCodec, parseEdgeFact, type RawFact } from '../schemas/index.js'
import { FactPublisher, Subjects, StreamAdmin } from '../streams/index.js'
import { startNatsServer } from '../infra/index.js'
import { generateKeyPair } from '../keys/index.js'
import { defaultManifest } from '../processors/scrub/index.js'
import { createSidecar, type Sidecar, type FsyncPolicy } from '../sidecar/index.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const DRAIN_N = Number(process.env.BENCH_DRAIN_N ?? 1_000_000)
const BATCH = 100
const TS = 1_763_700_000_000
const base = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-sidecar-'))
const manifest = defaultManifest({ hashKey: 'bench-hash-key-0123456789' })

/** Edge objects: 9 metrics, then an event with text for the scrubber to find. */
function edge(run: number, i: number): Record<string, unknown> {
  if (i % 10 === 9)
    return {
      lane: 'event',
      ts: TS + i,
      type: 'auth.login',
      message: `login ok for user${i % 500}@example.org from 10.0.${i % 250}.${run}`,
      attrs: { user: `user${i % 500}`, run: String(run) },
    }
  return { lane: 'metric', ts: TS + i, name: 'cpu.load', value: (i % 1000) / 7, labels: { job: `batch-${i % 13}`, run: String(run) } }
}
const batchOf = (run: number, b: number): Array<Record<string, unknown>> => Array.from({ length: BATCH }, (_, j) => edge(run, b * BATCH + j))

interface Row {
  readonly name: string
  readonly facts: number
  readonly secs: number
  readonly note?: string
}
const rows: Row[] = []
const rate = (r: Row): number => r.facts / r.secs
let runNo = 0
const never = new Promise<NatsConnection>(() => undefined)

async function sidecar(nats: NatsConnection | Promise<NatsConnection>, fsync?: FsyncPolicy, maxWalBytes?: number): Promise<Sidecar> {
  const id = `bench-${++runNo}`
  return createSidecar({
    id,
    nats,
    walDir: join(base, id, 'wal'),
    keyPair: generateKeyPair('sidecar'),
    manifest,
    registerKey: false,
    ...(fsync ? { fsync } : {}),
    ...(maxWalBytes ? { maxWalBytes } : {}),
  })
}

/** `producers` loops, each accepting its share of `n` facts in batches of 100. */
async function feed(sc: Sidecar, run: number, n: number, producers: number): Promise<number> {
  const batches = n / BATCH
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (next < batches) {
        const r = await sc.accept(batchOf(run, next++))
        if (r.rejected.length > 0) throw new Error(`bench input refused: ${JSON.stringify(r.rejected[0])}`)
      }
    }),
  )
  return (performance.now() - t0) / 1000
}

async function intake(name: string, fsync: FsyncPolicy, producers: number): Promise<void> {
  const sc = await sidecar(never, fsync)
  await feed(sc, runNo, Math.min(N, 20_000), producers) // warm up (JIT)
  const secs = await feed(sc, runNo + 1000, N, producers)
  rows.push({ name, facts: N, secs, note: `${sc.status().wal.lastSeq} in the WAL` })
  await sc.close()
}

const until = async (what: () => boolean): Promise<void> => {
  while (!what()) await new Promise((r) => setTimeout(r, 5))
}

async function endToEnd(nc: NatsConnection): Promise<void> {
  const sc = await sidecar(nc)
  await sc.online
  const t0 = performance.now()
  await feed(sc, runNo, N, 8)
  await until(() => sc.status().drain.deliveredSeq >= N)
  rows.push({ name: 'sidecar: accept → stored in JetStream (8 producers)', facts: N, secs: (performance.now() - t0) / 1000, note: `resyncs ${sc.status().drain.resyncs}` })
  await sc.close()
}

/** The same facts, validated beforehand (like the stock client's bytes in bench:ingest), through the bare FactPublisher. */
async function bare(nc: NatsConnection, n: number, name: string, prebuilt: boolean): Promise<void> {
  const publisher = new FactPublisher(nc, new Subjects(), new FactCodec())
  const run = ++runNo
  const facts = function* (): Generator<RawFact> {
    for (let i = 0; i < n; i++) {
      const r = parseEdgeFact({ ...edge(run, i), source: `bare-${run}` })
      if (!r.ok) throw new Error(r.error.message)
      yield r.value
    }
  }
  const pre = prebuilt ? [...facts()] : undefined
  const t0 = performance.now()
  const rep = await publisher.publishAll(pre ?? facts())
  rows.push({
    name,
    facts: n,
    secs: (performance.now() - t0) / 1000,
    note: `${pre ? 'validated before timing' : 'zod-validated in the timed loop'}; stored ${rep.stored}, failed ${rep.failed}`,
  })
  await publisher.close()
}

async function backlog(nc: NatsConnection): Promise<{ fill: Row; drain: Row }> {
  let connectNow: (c: NatsConnection) => void = () => undefined
  const sc = await sidecar(new Promise<NatsConnection>((r) => (connectNow = r)), undefined, 4 * 1024 * 1024 * 1024)
  const fillSecs = await feed(sc, runNo, DRAIN_N, 8)
  const fill: Row = {
    name: `backlog: fill ${DRAIN_N.toLocaleString('en-US')} facts, NATS unreachable (8 producers)`,
    facts: DRAIN_N,
    secs: fillSecs,
    note: `${(sc.status().wal.depthBytes / 1e6).toFixed(0)} MB of WAL`,
  }
  const t0 = performance.now()
  connectNow(nc)
  await until(() => sc.status().drain.deliveredSeq >= DRAIN_N)
  const s = sc.status()
  const drain: Row = {
    name: `backlog: drain ${DRAIN_N.toLocaleString('en-US')} facts to JetStream`,
    facts: DRAIN_N,
    secs: (performance.now() - t0) / 1000,
    note: `stored ${s.drain.stored}, duplicates ${s.drain.duplicates}, resyncs ${s.drain.resyncs}`,
  }
  await sc.close()
  return { fill, drain }
}

function printTable(list: readonly Row[]): void {
  const head = ['run', 'facts', 'seconds', 'facts/s', 'note']
  const body = list.map((r) => [r.name, r.facts.toLocaleString('en-US'), r.secs.toFixed(2), Math.round(rate(r)).toLocaleString('en-US'), r.note ?? ''])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')
  process.stdout.write([line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n') + '\n')
}

async function main(): Promise<void> {
  const server = await startNatsServer({ storeDir: join(base, 'nats') })
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1 })
  try {
    await (await StreamAdmin.open(nc)).ensureTopology({ subjects: new Subjects() })
    await intake('intake, fsync batch (default), 1 producer', 'batch', 1)
    await intake('intake, fsync batch (default), 8 producers', 'batch', 8)
    await intake('intake, fsync always, 1 producer', 'always', 1)
    await intake('intake, fsync always, 8 producers', 'always', 8)
    await endToEnd(nc)
    await bare(nc, N, 'baseline: bare FactPublisher, same facts, no WAL', true)
    await bare(nc, N, 'baseline: parseEdgeFact + bare FactPublisher, no scrub, no WAL', false)
    const b = await backlog(nc)
    rows.push(b.fill, b.drain)
    await bare(nc, DRAIN_N, `baseline: bare FactPublisher, ${DRAIN_N.toLocaleString('en-US')} facts`, false)
    printTable(rows)
    const r = (prefix: string): number => Math.round(rate(rows.find((x) => x.name.startsWith(prefix))!))
    process.stdout.write(
      JSON.stringify({
        bench: 'sidecar',
        facts: N,
        batch: BATCH,
        intakeBatch1: r('intake, fsync batch (default), 1'),
        intakeBatch8: r('intake, fsync batch (default), 8'),
        intakeAlways1: r('intake, fsync always, 1'),
        intakeAlways8: r('intake, fsync always, 8'),
        endToEnd: r('sidecar: accept'),
        barePublisher: r('baseline: bare FactPublisher, same'),
        bareValidatedPublisher: r('baseline: parseEdgeFact'),
        backlogFacts: DRAIN_N,
        backlogFill: Math.round(rate(b.fill)),
        backlogDrain: Math.round(rate(b.drain)),
        barePublisherBacklog: r(`baseline: bare FactPublisher, ${DRAIN_N.toLocaleString('en-US')}`),
      }) + '\n',
    )
  } finally {
    await nc.close().catch(() => undefined)
    await server.stop()
    rmSync(base, { recursive: true, force: true })
  }
}

main().catch((err) => {
  process.stderr.write(`bench:sidecar failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
