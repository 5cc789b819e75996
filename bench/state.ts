/**
 * `npm run bench:state`: what detect's state and its checkpoints cost as series grow.
 *
 * For each size (BENCH_SERIES, default 10000,100000; 100 series per source) it builds the
 * detect state with the shipped detector config (BENCH_POINTS points per series, default 600:
 * every drift window full), then, against a real nats-server and the same code the stage runner
 * uses (journal → ChunkWriter → CheckpointStore.append; open → replay → FrameReader → restore):
 *
 * - RSS and heap of the process holding the state (right after a full collection, and settled:
 *   4 s later, once V8 has given back the pages it emptied), and the peak RSS;
 * - the first checkpoint (every series new: the whole state) and steady checkpoints after
 *   5,000 inputs on random series (the runner's default epoch): bytes written, records, time
 *   to snapshot (synchronous, the stage waits) and to store;
 * - churn: BENCH_CHURN series (default 100) take every input between checkpoints, for 80
 *   checkpoints (past the 64 segments kept): bytes written per checkpoint (what changed, plus
 *   compactions), the largest, and what is retained;
 * - a restart: a fresh process opens the checkpoint and restores the state. Restart time is stage
 *   start (connect) → state restored and the first fact of a restored series processed (split
 *   into KV reads, frames and that fact), and process start → the same first fact (node's start
 *   and module loading added), each with its CPU and the load average; then it decodes every
 *   series (deferred to each series' next point by the lazy restore: its time and the RSS after);
 * - the KV subjects the checkpoint bucket holds.
 *
 * Baseline in the same run (first size only): the previous checkpoint, the whole state as one
 * JSON document (`serializeDetectState` + `JSON.stringify`), its size and time.
 * The process bounds V8's heap growth as a process running detect does (once the state passes
 * DETECT_HEAP_BOUND_SERIES series; BENCH_HEAP_GROWTH=0: V8's default). BENCH_GC_AT=<point>: a full collection after that point
 * of every series, to tell what is live at the end of the first windows from garbage.
 * Ends with one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { MetricFact } from '../schemas/index.js'
import { Bucket, kvName, Subjects, StreamAdmin } from '../streams/index.js'
import { startNatsServer } from '../infra/index.js'
import { heapGrowthBounded, keepDefaultHeapGrowth, defaultDetectorConfig, detectStage, serializeDetectState, type DetectState } from '../processors/detect/index.js'
import { CheckpointStore, ChunkWriter, FrameReader } from '../processors/runner/index.js'
import { procCpu } from './proc-cpu.js'
import { childResult } from './child-result.js'

const SIZES = (process.env.BENCH_SERIES ?? '10000,100000').split(',').map(Number)
const POINTS = Number(process.env.BENCH_POINTS ?? 600)
const PER_SOURCE = 100
const EPOCH = 5000
/** Series changing between checkpoints in the churn phase, and how many checkpoints it lasts. */
const CHURN = Number(process.env.BENCH_CHURN ?? 100)
const CHURN_CHECKPOINTS = 80
/** Restarts measured per size (each read mode), the median reported. */
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 3)
/** BENCH_BASELINE=0: no baseline restarts (one kv.get per chunk; slow at 100,000 series). */
const BASELINE = process.env.BENCH_BASELINE !== '0'
/** BENCH_MEMORY_ONLY=1: stop after the memory figures of each size (no checkpoints, no restarts). */
const MEMORY_ONLY = process.env.BENCH_MEMORY_ONLY === '1'
/** BENCH_PROFILE=<dir>: the restore processes write a CPU profile there (node --cpu-prof). */
const PROFILE = process.env.BENCH_PROFILE
/** BENCH_GC_AT=<point>: a full collection after that point of every series (live vs garbage at the first window's end; 0: none). */
const GC_AT = Number(process.env.BENCH_GC_AT ?? 0)
const T0 = 1_763_700_000_000
const mb = (b: number): number => Math.round(b / 1048576)
const log = (s: string): void => void process.stderr.write(`${s}\n`)

function fact(s: number, p: number, value: number): MetricFact {
  return {
    id: `b-${s}-${p}`,
    ts: T0 + p * 10_000,
    source: `host-${Math.floor(s / PER_SOURCE)}`,
    lane: 'routine',
    kind: 'metric',
    payload: { name: `m${s % 10}`, value, labels: { shard: String(Math.floor(s / 10) % 10) } },
    lineage: [],
    producer: 'bench',
    config: {},
    explain: null,
    redactions: [],
  } as MetricFact
}

interface Restart {
  /**
   * Stage start → first fact processed: connect, open the checkpoint, read and restore the state,
   * then one fact of a restored series stepped (its detector state decoded on the way).
   */
  ms: number
  /** Process start (node's time origin) → first fact processed: the above plus node's start and loading the modules. */
  processMs: number
  /** Of `ms`: stepping the first fact (the lazy decode of its series included). */
  firstFactMs: number
  /** CPU of the whole process up to the first fact (module loading included). */
  processCpuMs: number
  /** CPU of the restarting process, and of the nats-server while it restarted (ms). */
  cpuMs: number
  serverCpuMs: number
  /** Checkpoint bytes read from KV. */
  readBytes: number
  /** Of which: reading the chunks from KV, and reading the frames (the stage's restore). */
  readMs: number
  frameMs: number
  series: number
  rssMb: number
  /** After the restart: decoding every series' detector state (a lazy restore defers it to each series' next point). */
  decodeAllMs: number
  decodedRssMb: number
}

/** How a restart reads the chunks: in bulk (the stage's way) or one `kv.get` per chunk (the baseline: a KV the bulk reader does not know). */
type ReadMode = 'bulk' | 'each'

async function restoreFrom(url: string, key: string, mode: ReadMode): Promise<Omit<Restart, 'serverCpuMs'>> {
  // the stage's config is loaded before the stage starts (its own source); built here, outside the stage's time
  const cfg = defaultDetectorConfig()
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const nc = await connect({ servers: url })
  const bucket = await new Kvm(nc).open(kvName({}, Bucket.Checkpoints))
  const kv = mode === 'bulk' ? bucket : ({ get: (k: string) => bucket.get(k) } as unknown as typeof bucket)
  const cp = await new CheckpointStore(kv, key).open()
  if (!cp || cp.kind !== 'log') throw new Error('no incremental checkpoint to restore')
  const rs = detectStage.journal!.restore()
  let seg = -1
  let frameMs = 0
  const frames = new FrameReader((f) => rs.frame(seg, f))
  let readBytes = 0
  await cp.replay((seq, chunk) => {
    readBytes += chunk.length
    seg = seq
    const f0 = performance.now()
    frames.push(chunk)
    frameMs += performance.now() - f0
  })
  const f1 = performance.now()
  let state = rs.finish()
  frameMs += performance.now() - f1
  // the first fact after the restart: a point of a restored series, later than any it has seen
  const ff = performance.now()
  const r = detectStage.step(state, fact(0, 10 * POINTS, 10.5), cfg)
  state = r.state
  if (r.rejected) throw new Error(`first fact after the restart refused: ${r.rejected.message}`)
  const firstFactMs = performance.now() - ff
  const ms = performance.now() - t0
  const processMs = performance.now()
  const cpu = process.cpuUsage(c0)
  const processCpu = process.cpuUsage()
  await nc.close()
  const rssMb = mb(process.memoryUsage().rss)
  const d0 = performance.now()
  let n = 0
  for (const rec of state.series.values()) n += rec.ens.n > 0 ? 1 : 0
  const decodeAllMs = Math.round(performance.now() - d0)
  global.gc?.()
  return {
    ms: Math.round(ms),
    processMs: Math.round(processMs),
    firstFactMs: +firstFactMs.toFixed(1),
    processCpuMs: Math.round((processCpu.user + processCpu.system) / 1000),
    readBytes,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    readMs: Math.round(ms - frameMs - firstFactMs),
    frameMs: Math.round(frameMs),
    series: n,
    rssMb,
    decodeAllMs,
    decodedRssMb: mb(process.memoryUsage().rss),
  }
}

function child(url: string, key: string, mode: ReadMode, serverPid: number): Promise<Restart> {
  const s0 = procCpu(serverPid) * 1000
  const p = spawn(process.execPath, ['--expose-gc', ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []), fileURLToPath(import.meta.url), '--restore', url, key, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return childResult<Restart>(p, 'the restore process').then((r) => ({ ...r, serverCpuMs: procCpu(serverPid) * 1000 - s0 }))
}

async function main(): Promise<void> {
  // this process holds the detect state as a detect stage's process does: its heap growth is bounded
  // once the state passes DETECT_HEAP_BOUND_SERIES (BENCH_HEAP_GROWTH=0: V8's default growth throughout)
  if (process.env.BENCH_HEAP_GROWTH === '0') keepDefaultHeapGrowth()
  // before the server starts: a config that cannot be read must not leave a nats-server behind
  const cfg = defaultDetectorConfig()
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-state-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  const nc = await connect({ servers: server.url })
  await (await StreamAdmin.open(nc)).ensureTopology({ subjects: new Subjects() })
  const kv = await new Kvm(nc).open(kvName({}, Bucket.Checkpoints))
  const rows: Array<Record<string, number | string>> = []
  const fig: Record<string, unknown> = { bench: 'state', points: POINTS, perSource: PER_SOURCE, epoch: EPOCH, load: 'shared machine' }
  try {
    for (const n of SIZES) {
      let state: DetectState | undefined = detectStage.initialState()
      const build: { liveAtWindowMb?: number } = {}
      const t0 = performance.now()
      let rnd = 12345
      const next = (): number => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648
      for (let p = 0; p < POINTS; p++) {
        for (let s = 0; s < n; s++) state = detectStage.step(state, fact(s, p, 10 + (s % 13) + next()), cfg).state
        if (p % 100 === 99 || p === GC_AT - 1) {
          const m = process.memoryUsage()
          log(
            `${n} series: ${p + 1}/${POINTS} points each (${((performance.now() - t0) / 1000).toFixed(0)} s): RSS ${mb(m.rss)} MB (peak ${Math.round(process.resourceUsage().maxRSS / 1024)} MB), heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)} MB, array buffers ${mb(m.arrayBuffers)} MB, heap growth ${heapGrowthBounded() ? 'bounded' : "V8's default"}`,
          )
        }
        if (p === GC_AT - 1 && global.gc) {
          // what is live at the bulge (every series' first window all but complete), and what was garbage
          global.gc()
          const m = process.memoryUsage()
          build.liveAtWindowMb = mb(m.heapUsed + m.arrayBuffers)
          log(
            `${n} series: after a full collection at point ${GC_AT}: RSS ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)} MB, array buffers ${mb(m.arrayBuffers)} MB`,
          )
        }
      }
      global.gc?.()
      const rssAtOnceMb = mb(process.memoryUsage().rss)
      // settled: V8 gives the pages a collection emptied back to the system in the background,
      // a few seconds later (measured at once, they are still counted)
      await new Promise((r) => setTimeout(r, 3000))
      global.gc?.()
      global.gc?.()
      await new Promise((r) => setTimeout(r, 1000))
      const mem = process.memoryUsage()
      log(`${n} series: RSS at once after a full collection ${rssAtOnceMb} MB, settled (4 s later) ${mb(mem.rss)} MB`)
      log(
        `${n} series: RSS ${mb(mem.rss)} MB, heap ${mb(mem.heapUsed)} MB (of ${mb(mem.heapTotal)} MB), array buffers ${mb(mem.arrayBuffers)} MB (${Math.round((mem.heapUsed + mem.arrayBuffers) / n)} B/series); peak RSS while building ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
      )
      if (MEMORY_ONLY) {
        rows.push({
          series: n,
          rssMb: mb(mem.rss),
          rssAtOnceMb,
          heapMb: mb(mem.heapUsed),
          arrayBuffersMb: mb(mem.arrayBuffers),
          peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
          ...build,
          buildS: Math.round((performance.now() - t0) / 1000),
        })
        state = undefined
        continue
      }
      const key = `bench.s${n}`
      const store = new CheckpointStore(kv, key)
      const head = { stage: 'detect', version: 'bench', positions: { metric: 0 }, applied: 0 }
      let seq = 0
      const checkpoint = async (): Promise<{ bytes: number; records: number; snapshotMs: number; storeMs: number; retained: number }> => {
        const ts = performance.now()
        const w = new ChunkWriter()
        const plan = detectStage.journal!.write(state!, ++seq, w)
        const chunks = w.finish()
        const snapshotMs = performance.now() - ts
        const t1 = performance.now()
        const saved = await store.append(head, { seq, kind: 'log', chunks, keepFrom: plan.keepFrom, keep: plan.keep })
        return { bytes: saved.bytes, records: plan.records, snapshotMs, storeMs: performance.now() - t1, retained: saved.retained }
      }
      const first = await checkpoint()
      const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
      log(`${n} series: first checkpoint ${mb(first.bytes)} MB in ${first.snapshotMs.toFixed(0)} + ${first.storeMs.toFixed(0)} ms; peak RSS so far ${peakRssMb} MB`)
      const steady: Array<Awaited<ReturnType<typeof checkpoint>>> = []
      let p = POINTS
      for (let k = 0; k < 6; k++) {
        for (let i = 0; i < EPOCH; i++) state = detectStage.step(state, fact(Math.floor(next() * n), p + (i % 1), 10 + next()), cfg).state
        p++
        steady.push(await checkpoint())
      }
      steady.sort((a, b) => a.bytes - b.bytes)
      const med = steady[Math.floor(steady.length / 2)]
      // churn: a few series change between checkpoints (CHURN of them, EPOCH inputs over them)
      const churn: Array<Awaited<ReturnType<typeof checkpoint>>> = []
      const hot = Array.from({ length: Math.min(CHURN, n) }, () => Math.floor(next() * n))
      for (let k = 0; k < CHURN_CHECKPOINTS; k++) {
        for (let i = 0; i < EPOCH; i++) state = detectStage.step(state, fact(hot[i % hot.length], p + Math.floor(i / hot.length), 10 + next()), cfg).state
        p += Math.ceil(EPOCH / hot.length)
        churn.push(await checkpoint())
      }
      const churnBytes = churn.map((c) => c.bytes).sort((a, b) => a - b)
      const churnMed = churnBytes[Math.floor(churnBytes.length / 2)]
      const churnMax = churnBytes[churnBytes.length - 1]
      const churnRecords = Math.max(...churn.map((c) => c.records))
      let baseline: { bytes: number; ms: number } | undefined
      if (n === SIZES[0]) {
        const tb = performance.now()
        const text = JSON.stringify({ ...head, state: serializeDetectState(state!) })
        baseline = { bytes: Buffer.byteLength(text), ms: performance.now() - tb }
        fig.baselineJson = { series: n, bytes: baseline.bytes, ms: Math.round(baseline.ms) }
      }
      const series = state!.series.size
      state = undefined
      // restarts alternating with the baseline (one kv.get per chunk): medians of RESTARTS each
      const runs: Record<ReadMode, Restart[]> = { bulk: [], each: [] }
      for (let k = 0; k < RESTARTS; k++)
        for (const mode of BASELINE ? (['bulk', 'each'] as const) : (['bulk'] as const)) runs[mode].push(await child(server.url, key, mode, server.pid))
      const median = (rs: Restart[]): Restart => [...rs].sort((a, b) => a.ms - b.ms)[Math.floor(rs.length / 2)]
      const restart = median(runs.bulk)
      const each = runs.each.length ? median(runs.each) : { ms: NaN, cpuMs: NaN, serverCpuMs: NaN, readMs: NaN }
      const info = await (await jetstreamManager(nc)).streams.info(`KV_${kvName({}, Bucket.Checkpoints)}`, { subjects_filter: `$KV.${kvName({}, Bucket.Checkpoints)}.${key}.>` })
      const row = {
        series,
        rssMb: mb(mem.rss),
        heapMb: mb(mem.heapUsed),
        heapTotalMb: mb(mem.heapTotal),
        rssAtOnceMb,
        arrayBuffersMb: mb(mem.arrayBuffers),
        peakRssMb,
        buildS: Math.round((performance.now() - t0) / 1000),
        firstCkptMb: +(first.bytes / 1048576).toFixed(1),
        firstCkptMs: Math.round(first.snapshotMs + first.storeMs),
        steadyCkptRecords: med.records,
        steadyCkptMb: +(med.bytes / 1048576).toFixed(1),
        steadySnapshotMs: Math.round(med.snapshotMs),
        steadyStoreMs: Math.round(med.storeMs),
        retainedMb: +(med.retained / 1048576).toFixed(1),
        churnSeries: Math.min(CHURN, n),
        churnCkptKb: Math.round(churnMed / 1024),
        churnCkptMaxKb: Math.round(churnMax / 1024),
        churnCkptMaxRecords: churnRecords,
        churnSnapshotMs: Math.round(Math.max(...churn.map((c) => c.snapshotMs))),
        churnRetainedMb: +(churn[churn.length - 1].retained / 1048576).toFixed(1),
        restartMs: restart.ms,
        restartProcessMs: restart.processMs,
        restartProcessCpuMs: restart.processCpuMs,
        restartFirstFactMs: restart.firstFactMs,
        restartReadMs: restart.readMs,
        restartFrameMs: restart.frameMs,
        restartMsAll: runs.bulk.map((r) => r.ms).join(' '),
        restartReadMb: +(restart.readBytes / 1048576).toFixed(1),
        restartCpuMs: restart.cpuMs,
        restartServerCpuMs: restart.serverCpuMs,
        baselineRestartMs: each.ms,
        baselineRestartCpuMs: each.cpuMs,
        baselineRestartServerCpuMs: each.serverCpuMs,
        baselineRestartReadMs: each.readMs,
        baselineRestartMsAll: runs.each.map((r) => r.ms).join(' '),
        restartRssMb: restart.rssMb,
        restoredSeries: restart.series,
        decodeAllMs: restart.decodeAllMs,
        decodedRssMb: restart.decodedRssMb,
        kvSubjects: Object.keys(info.state.subjects ?? {}).length,
        bytesPerSeries: Math.round(first.bytes / series),
      }
      rows.push(row)
      console.log(
        `${series} series: RSS ${row.rssMb} MB settled, ${row.rssAtOnceMb} MB at once after a full collection (heap ${row.heapMb} MB of ${row.heapTotalMb} MB, array buffers ${row.arrayBuffersMb} MB; peak RSS through the first checkpoint ${row.peakRssMb} MB); first checkpoint ${row.firstCkptMb} MB in ${row.firstCkptMs} ms (${row.bytesPerSeries} B/series); steady checkpoint after ${EPOCH} inputs: ${row.steadyCkptRecords} records, ${row.steadyCkptMb} MB, snapshot ${row.steadySnapshotMs} ms + store ${row.steadyStoreMs} ms; retained ${row.retainedMb} MB; restart ${row.restartMs} ms (fresh process, RSS ${row.restartRssMb} MB, ${row.restoredSeries} series); ${row.kvSubjects} KV subjects`,
      )
      console.log(
        `  churn (${row.churnSeries} series change between checkpoints, ${EPOCH} inputs each time, ${CHURN_CHECKPOINTS} checkpoints): ${row.churnCkptKb} KB written per checkpoint (median; max ${row.churnCkptMaxKb} KB, ${row.churnCkptMaxRecords} records, snapshot <= ${row.churnSnapshotMs} ms); retained ${row.churnRetainedMb} MB`,
      )
      console.log(
        `  restart, stage start (connect) → checkpoint read, state restored and the first fact processed: ${row.restartMs} ms (median of ${RESTARTS}: ${row.restartMsAll}); process start → first fact processed ${row.restartProcessMs} ms, CPU ${row.restartProcessCpuMs} ms (node start and module loading included); load average ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
      )
      console.log(
        `  restart (median of ${RESTARTS}: ${row.restartMsAll}) ${row.restartMs} ms = KV reads ${row.restartReadMs} ms (${row.restartReadMb} MB) + frames ${row.restartFrameMs} ms + first fact ${row.restartFirstFactMs} ms, CPU ${row.restartCpuMs} ms + nats-server ${row.restartServerCpuMs} ms; baseline one kv.get per chunk (same run, alternating: ${row.baselineRestartMsAll}) ${row.baselineRestartMs} ms = KV reads ${row.baselineRestartReadMs} ms, CPU ${row.baselineRestartCpuMs} ms + nats-server ${row.baselineRestartServerCpuMs} ms (ratio ${(row.restartMs / row.baselineRestartMs).toFixed(2)})`,
      )
      console.log(`  decoding every series afterwards (done lazily, at each series' next point) ${row.decodeAllMs} ms, RSS then ${row.decodedRssMb} MB`)
      if (baseline)
        console.log(
          `  baseline (previous format, whole state as JSON): ${(baseline.bytes / 1048576).toFixed(1)} MB (${Math.round(baseline.bytes / series)} B/series), ${Math.round(baseline.ms)} ms to serialise — written at every checkpoint`,
        )
    }
  } finally {
    await nc.close()
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  fig.rows = rows
  console.log(JSON.stringify(fig))
}

if (process.argv[2] === '--restore') {
  restoreFrom(process.argv[3], process.argv[4], process.argv[5] === 'each' ? 'each' : 'bulk').then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
} else {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
