/**
 * bench:replay — facts/s replayed (read + re-derive through scrub, detect, policy, act,
 * incident + compare with the recorded facts) for a window of BENCH_N raw facts (default
 * 1,000,000), from JetStream (raw facts, scrub re-run) and from ClickHouse (scrubbed facts, the
 * rebuild starts after scrub), with peak memory; against a baseline in the same run that only
 * reads (and decodes) the same messages with the same reader (an ordered push consumer per
 * filter), and a nats.go reference (ordered consumers over the same subjects, bench/go/jsread.go,
 * when Go and Debian's nats.go are there). Each phase prints CPU µs per fact of this process (all
 * threads) and of the nats-server: under load, compare those. Memory is measured at a quarter
 * of the window and at the whole window: it should not grow with it.
 *
 * The "live" recording is made in this process with the same stage objects, chunk by chunk
 * (raw chunk stored, then its derived facts), as a running `ben up` interleaves them.
 *
 *   npm run build && node dist/bench/replay.js          (BENCH_N=200000 for a quick run)
 * Prints a table, then one JSON line {"bench":"replay",...}.
 */
import { profiled } from './profile.js'
import { procCpu } from './proc-cpu.js'
import { compileGo, runGo } from './go-baseline.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactCodec, parseEdgeFact, type RawFact } from '../schemas/index.js'
import { DeadLetters, FactPublisher, Subjects, StreamAdmin } from '../streams/index.js'
import { factsProjection, migrate, Projector } from '../projections/index.js'
import { openClickHouse, startNatsServer } from '../infra/index.js'
import { generateKeyPair } from '../keys/index.js'
import { clientWarehouse, replayWindow, replayWorkers, type ReplayDeps, type ReplayResult } from '../replay/index.js'
import { printTable } from '../cli/output.js'
import { LiveRecorder, readOnly } from './replay-live.js'

/** Worker threads of the worker phase: the engine's default for a big replay, at least 1 (so the phase is measured on 2 cores too). */
const BENCH_WORKERS = Math.max(1, replayWorkers(undefined, Infinity))

const N = Number(process.env.BENCH_N ?? 1_000_000)
const SOURCES = Number(process.env.BENCH_SOURCES ?? 50)
const CHUNK = 5000
const log = (m: string) => process.stderr.write(`bench:replay ${m}\n`)

/** Deterministic fleet telemetry: 85 % metrics (cpu.load per job, mem, disk), 15 % log events; rare spikes. */
function* rawFacts(from: number, to: number, t0: number): Generator<RawFact> {
  for (let i = from; i < to; i++) {
    const src = `web-${i % SOURCES}`
    const k = Math.floor(i / SOURCES)
    const ts = t0 + k * 1000
    const h = (Math.imul(i, 2654435761) >>> 0) / 4294967296
    let edge: unknown
    if (i % 20 < 17) {
      const m = i % 3
      // cpu.load runs away now and then (~30 points at 10×, every ~1000 points of a series)
      const runaway = m === 0 && k > 1800 && (k + (i % SOURCES) * 37) % 3001 < 90
      const base = m === 0 ? 0.8 : m === 1 ? 55 : 12
      const value = base * (1 + 0.08 * (h - 0.5)) * (runaway ? 10 : 1)
      edge = { lane: 'metric', source: src, ts, name: m === 0 ? 'cpu.load' : m === 1 ? 'mem.used_pct' : 'disk.io_ms', value, labels: m === 0 ? { job: `batch-${i % 3}` } : {} }
    } else {
      edge = {
        lane: 'event',
        source: src,
        ts,
        type: 'app.log',
        message: `GET /api/v1/items/${i % 977} 200 in ${Math.round(h * 90)} ms for user-${i % 500}`,
        attrs: { path: `/api/v1/items/${i % 977}`, user: `user-${i % 500}` },
      }
    }
    const r = parseEdgeFact(edge)
    if (!r.ok) throw new Error(r.error.message)
    yield r.value
  }
}

interface Phase {
  readonly secs: number
  /** CPU seconds of this process (every thread) and of the nats-server over the phase. */
  readonly cpuSecs: number
  readonly serverCpuSecs: number
  readonly facts: number
  readonly peakRssMb: number
  readonly peakHeapMb: number
  readonly result?: ReplayResult
}

async function measure(serverPid: number, run: () => Promise<ReplayResult | void>): Promise<Phase> {
  global.gc?.()
  let peakRss = process.memoryUsage().rss
  let peakHeap = process.memoryUsage().heapUsed
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    peakRss = Math.max(peakRss, m.rss)
    peakHeap = Math.max(peakHeap, m.heapUsed)
  }, 25)
  const c0 = process.cpuUsage()
  const s0 = procCpu(serverPid)
  const t0 = performance.now()
  const result = (await run()) ?? undefined
  const secs = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  const serverCpuSecs = procCpu(serverPid) - s0
  clearInterval(timer)
  return { secs, cpuSecs: (c.user + c.system) / 1e6, serverCpuSecs, facts: 0, peakRssMb: Math.round(peakRss / 1048576), peakHeapMb: Math.round(peakHeap / 1048576), result }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-replay-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  const nc = await connect({ servers: server.url })
  const subjects = new Subjects()
  await (await StreamAdmin.open(nc)).ensureTopology({ subjects })
  const codec = new FactCodec()
  const wh = await openClickHouse({ path: join(dir, 'ch') })
  await migrate(wh.client)
  const publisher = new FactPublisher(nc, subjects, codec)
  // BENCH_CLICKHOUSE=0: JetStream phases only (no projector, no ClickHouse replay)
  const withCh = process.env.BENCH_CLICKHOUSE !== '0'
  const projector = new Projector(factsProjection({ fromScrubbed: true }), wh.client)
  if (withCh) await projector.start(nc, codec, subjects, {}, new DeadLetters(publisher, subjects, codec, 'bench'))
  const issuer = generateKeyPair('issuer', new Uint8Array(32).fill(7))
  const live = new LiveRecorder(publisher, subjects, issuer)
  const deps: ReplayDeps = { nc, subjects, warehouse: clientWarehouse(wh.client), issuer, codec }
  const t0 = Date.now() - Math.ceil(N / SOURCES) * 1000 - 60_000

  // The nats.go reference: ordered consumers over the same subjects as the read-only baseline.
  const goRead = compileGo('jsread.go')
  if (!goRead.ok) log(`no nats.go reference read: ${goRead.reason}`)
  const goArgs = [`FACTS=${subjects.factsAll}`, ...[subjects.scrubbedAll, subjects.anomalyAll, subjects.decisionAll, subjects.incidentAll].map((f) => `DERIVED=${f}`)]
  const rows: unknown[][] = []
  const fig: Record<string, unknown> = { bench: 'replay', facts: N, sources: SOURCES }
  let loaded = 0
  for (const size of [Math.floor(N / 4), N]) {
    // Record the live run up to `size` raw facts.
    const tl = performance.now()
    for (; loaded < size; loaded += CHUNK) {
      await live.chunk([...rawFacts(loaded, Math.min(size, loaded + CHUNK), t0)])
      if (loaded % 100_000 === 0) log(`recorded ${loaded} raw facts (${((performance.now() - tl) / 1000).toFixed(1)} s)`)
    }
    for (let waited = 0; withCh && projector.stats.inserted + projector.stats.skippedExisting < live.stats.scrubbed; waited++) {
      if (waited % 200 === 199) {
        const jsm = await jetstreamManager(nc)
        const ci: unknown[] = []
        for await (const c of jsm.consumers.list('DERIVED'))
          ci.push({ n: c.name, p: c.num_pending, a: c.num_ack_pending, d: c.delivered, w: c.num_waiting, f: c.config.filter_subject })
        const si = (await jsm.streams.info('DERIVED')).state
        log(`waiting for the projector: ${JSON.stringify(projector.stats)} of ${JSON.stringify(live.stats)}; DERIVED ${si.messages}; consumer ${JSON.stringify(ci).slice(0, 600)}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    log(`projected ${projector.stats.inserted} scrubbed facts into ClickHouse (${((performance.now() - tl) / 1000).toFixed(1)} s)`)
    const recordSecs = (performance.now() - tl) / 1000
    const window = { from: 0, to: Date.now() + 60_000 }

    log('measuring…')
    const baseJs = await measure(server.pid, async () => void (await readOnly(deps, 'jetstream')))
    let goPhase: { secs: number; cpuSecs: number; serverCpuSecs: number; messages: number } | undefined
    if (goRead.ok) {
      const s0 = procCpu(server.pid)
      const out = await runGo<{ messages: number; secs: number; cpu_secs: number }>(goRead.bin, [server.url, ...goArgs]).catch((err: Error) => {
        log(`the nats.go reference read failed (the figures go on without it): ${err.message}`)
        return undefined
      })
      if (out) goPhase = { secs: out.secs, cpuSecs: out.cpu_secs, serverCpuSecs: procCpu(server.pid) - s0, messages: out.messages }
    }
    // the replay on this thread alone, then with its telemetry layer on worker threads (BEN_REPLAY_WORKERS, default one fewer than the cores)
    const jsOne = await measure(server.pid, () => replayWindow(deps, window, { read: 'jetstream', workers: 0 }))
    const js = await measure(server.pid, () => profiled(size === N, () => replayWindow(deps, window, { read: 'jetstream', workers: BENCH_WORKERS })))
    const none = async () => ({ identical: true, counts: { compared: 0 }, stats: { inputFacts: 1 } }) as unknown as ReplayResult
    const baseCh = await measure(server.pid, async () => void (withCh ? await readOnly(deps, 'clickhouse') : undefined))
    const ch = await measure(server.pid, () => (withCh ? replayWindow(deps, window, { read: 'clickhouse' }) : none()))
    const rate = (p: Phase, n: number) => Math.round(n / p.secs)
    const jsN = js.result!.stats.inputFacts
    const chN = ch.result!.stats.inputFacts
    const tag = size === N ? '' : `_at_${size}`
    const us = (secs: number, n: number) => Math.round((secs * 1e6 * 10) / n) / 10
    const ratio = (a: Phase, b: Phase) => Math.round((b.secs / a.secs) * 100) / 100
    Object.assign(fig, {
      [`jetstream_facts_per_s${tag}`]: rate(js, jsN),
      [`jetstream_read_only_facts_per_s${tag}`]: rate(baseJs, jsN),
      [`jetstream_vs_read_only${tag}`]: ratio(js, baseJs),
      [`jetstream_workers${tag}`]: BENCH_WORKERS,
      [`jetstream_one_thread_facts_per_s${tag}`]: rate(jsOne, jsN),
      [`jetstream_one_thread_vs_read_only${tag}`]: ratio(jsOne, baseJs),
      [`jetstream_one_thread_cpu_us_per_fact${tag}`]: us(jsOne.cpuSecs, jsN),
      [`jetstream_one_thread_server_cpu_us_per_fact${tag}`]: us(jsOne.serverCpuSecs, jsN),
      [`jetstream_one_thread_identical${tag}`]: jsOne.result!.identical,
      [`jetstream_cpu_us_per_fact${tag}`]: us(js.cpuSecs, jsN),
      [`jetstream_server_cpu_us_per_fact${tag}`]: us(js.serverCpuSecs, jsN),
      [`jetstream_read_only_cpu_us_per_fact${tag}`]: us(baseJs.cpuSecs, jsN),
      [`jetstream_read_only_server_cpu_us_per_fact${tag}`]: us(baseJs.serverCpuSecs, jsN),
      [`go_read_facts_per_s${tag}`]: goPhase ? Math.round(jsN / goPhase.secs) : null,
      [`go_read_msgs_per_s${tag}`]: goPhase ? Math.round(goPhase.messages / goPhase.secs) : null,
      [`go_read_cpu_us_per_fact${tag}`]: goPhase ? us(goPhase.cpuSecs, jsN) : null,
      [`go_read_server_cpu_us_per_fact${tag}`]: goPhase ? us(goPhase.serverCpuSecs, jsN) : null,
      [`jetstream_identical${tag}`]: js.result!.identical,
      [`jetstream_compared${tag}`]: js.result!.counts.compared,
      [`jetstream_peak_rss_mb${tag}`]: js.peakRssMb,
      [`jetstream_peak_heap_mb${tag}`]: js.peakHeapMb,
      [`clickhouse_facts_per_s${tag}`]: rate(ch, chN),
      [`clickhouse_read_only_facts_per_s${tag}`]: rate(baseCh, chN),
      [`clickhouse_identical${tag}`]: ch.result!.identical,
      [`clickhouse_compared${tag}`]: ch.result!.counts.compared,
      [`clickhouse_peak_rss_mb${tag}`]: ch.peakRssMb,
      [`clickhouse_peak_heap_mb${tag}`]: ch.peakHeapMb,
    })
    rows.push(
      [`${size.toLocaleString()} raw facts recorded (live, in process)`, `${recordSecs.toFixed(1)} s`, '', '', ''],
      [
        `  JetStream: read only (baseline)`,
        `${rate(baseJs, jsN).toLocaleString()} facts/s`,
        `${us(baseJs.cpuSecs, jsN)} + ${us(baseJs.serverCpuSecs, jsN)} µs`,
        `${baseJs.peakRssMb} MiB`,
        `${baseJs.peakHeapMb} MiB`,
      ],
      [
        `  JetStream: nats.go ordered consumers, same subjects`,
        goPhase ? `${Math.round(jsN / goPhase.secs).toLocaleString()} facts/s` : 'not run',
        goPhase ? `${us(goPhase.cpuSecs, jsN)} + ${us(goPhase.serverCpuSecs, jsN)} µs` : '',
        '',
        '',
      ],
      [
        `  JetStream: replay, one thread (scrub→incident + compare)`,
        `${rate(jsOne, jsN).toLocaleString()} facts/s`,
        `${us(jsOne.cpuSecs, jsN)} + ${us(jsOne.serverCpuSecs, jsN)} µs`,
        `${jsOne.peakRssMb} MiB`,
        `${jsOne.peakHeapMb} MiB`,
      ],
      [`    one thread / read only`, `${ratio(jsOne, baseJs)}× (identical: ${jsOne.result!.identical})`, '', '', ''],
      [
        `  JetStream: replay, ${BENCH_WORKERS} telemetry worker thread(s)`,
        `${rate(js, jsN).toLocaleString()} facts/s`,
        `${us(js.cpuSecs, jsN)} + ${us(js.serverCpuSecs, jsN)} µs`,
        `${js.peakRssMb} MiB`,
        `${js.peakHeapMb} MiB`,
      ],
      [`    replay / read only`, `${ratio(js, baseJs)}×`, '', '', ''],
      [`    identical`, `${js.result!.identical} (${js.result!.counts.compared.toLocaleString()} facts)`, '', '', ''],
      [
        `  ClickHouse: read only (baseline)`,
        `${rate(baseCh, chN).toLocaleString()} facts/s`,
        `${us(baseCh.cpuSecs, chN)} + ${us(baseCh.serverCpuSecs, chN)} µs`,
        `${baseCh.peakRssMb} MiB`,
        `${baseCh.peakHeapMb} MiB`,
      ],
      [
        `  ClickHouse: replay (detect→incident + compare)`,
        `${rate(ch, chN).toLocaleString()} facts/s`,
        `${us(ch.cpuSecs, chN)} + ${us(ch.serverCpuSecs, chN)} µs`,
        `${ch.peakRssMb} MiB`,
        `${ch.peakHeapMb} MiB`,
      ],
      [`    identical`, `${ch.result!.identical} (${ch.result!.counts.compared.toLocaleString()} facts)`, '', '', ''],
    )
  }
  Object.assign(fig, { recorded: live.stats })
  printTable(['what', 'figure', 'CPU per fact: Ben (all threads) + nats-server', 'peak RSS', 'peak heap'], rows)
  if (goRead.ok) rmSync(goRead.dir, { recursive: true, force: true })
  process.stdout.write(JSON.stringify(fig) + '\n')
  await projector.stop()
  await publisher.close()
  await wh.close()
  await nc.close()
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
}

main().catch((err) => {
  process.stderr.write(`bench:replay failed: ${(err as Error).stack}\n`)
  process.exit(1)
})
