/**
 * `npm run bench:state`: what detect's state and its checkpoints cost as series grow.
 *
 * For each size (BENCH_SERIES, default 10000,100000; 100 series per source) it builds the
 * detect state with the shipped detector config (BENCH_POINTS points per series, default 600:
 * every drift window full), then, against a real nats-server and the same code the stage runner
 * uses (journal → ChunkWriter → CheckpointStore.append; open → replay → FrameReader → restore):
 *
 * - RSS and heap of the process holding the state;
 * - the first checkpoint (every series new: the whole state) and steady checkpoints after
 *   5,000 inputs on random series (the runner's default epoch): bytes written, records, time
 *   to snapshot (synchronous, the stage waits) and to store;
 * - a restart: a fresh process opens the checkpoint and restores the state (time, its RSS);
 * - the KV subjects the checkpoint bucket holds.
 *
 * Baseline in the same run (first size only): the previous checkpoint, the whole state as one
 * JSON document (`serializeDetectState` + `JSON.stringify`), its size and time.
 * Ends with one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import type { MetricFact } from '../schemas/index.js'
import { Bucket, ensureTopology, kvName, Subjects } from '../streams/index.js'
import { startNatsServer } from '../infra/index.js'
import { defaultDetectorConfig, detectStage, serializeDetectState, type DetectState } from '../processors/detect/index.js'
import { CheckpointStore, ChunkWriter, FrameReader } from '../processors/runner/index.js'

const SIZES = (process.env.BENCH_SERIES ?? '10000,100000').split(',').map(Number)
const POINTS = Number(process.env.BENCH_POINTS ?? 600)
const PER_SOURCE = 100
const EPOCH = 5000
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

async function restoreFrom(url: string, key: string): Promise<{ ms: number; series: number; rssMb: number }> {
  const t0 = performance.now()
  const nc = await connect({ servers: url })
  const kv = await new Kvm(nc).open(kvName({}, Bucket.Checkpoints))
  const cp = await new CheckpointStore(kv, key).open()
  if (!cp || cp.kind !== 'log') throw new Error('no incremental checkpoint to restore')
  const rs = detectStage.journal!.restore()
  let seg = -1
  const frames = new FrameReader((f) => rs.frame(seg, f))
  await cp.replay((seq, chunk) => {
    seg = seq
    frames.push(chunk)
  })
  const state = rs.finish()
  const ms = performance.now() - t0
  await nc.close()
  return { ms: Math.round(ms), series: state.series.size, rssMb: mb(process.memoryUsage().rss) }
}

function child(url: string, key: string): Promise<{ ms: number; series: number; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--restore', url, key], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`restore process exited ${code}`))))
  })
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-state-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  const nc = await connect({ servers: server.url })
  await ensureTopology(nc, await jetstreamManager(nc), { subjects: new Subjects() })
  const kv = await new Kvm(nc).open(kvName({}, Bucket.Checkpoints))
  const cfg = defaultDetectorConfig()
  const rows: Array<Record<string, number | string>> = []
  const fig: Record<string, unknown> = { bench: 'state', points: POINTS, perSource: PER_SOURCE, epoch: EPOCH, load: 'shared machine' }
  try {
    for (const n of SIZES) {
      let state: DetectState | undefined = detectStage.initialState()
      const t0 = performance.now()
      let rnd = 12345
      const next = (): number => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648
      for (let p = 0; p < POINTS; p++) {
        for (let s = 0; s < n; s++) state = detectStage.step(state, fact(s, p, 10 + (s % 13) + next()), cfg).state
        if (p % 100 === 99) log(`${n} series: ${p + 1}/${POINTS} points each (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
      }
      global.gc?.()
      const mem = process.memoryUsage()
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
        const saved = await store.append(head, { seq, kind: 'log', chunks, keepFrom: plan.keepFrom })
        return { bytes: saved.bytes, records: plan.records, snapshotMs, storeMs: performance.now() - t1, retained: saved.retained }
      }
      const first = await checkpoint()
      log(`${n} series: first checkpoint ${mb(first.bytes)} MB in ${first.snapshotMs.toFixed(0)} + ${first.storeMs.toFixed(0)} ms`)
      const steady: Array<Awaited<ReturnType<typeof checkpoint>>> = []
      let p = POINTS
      for (let k = 0; k < 6; k++) {
        for (let i = 0; i < EPOCH; i++) state = detectStage.step(state, fact(Math.floor(next() * n), p + (i % 1), 10 + next()), cfg).state
        p++
        steady.push(await checkpoint())
      }
      steady.sort((a, b) => a.bytes - b.bytes)
      const med = steady[Math.floor(steady.length / 2)]
      let baseline: { bytes: number; ms: number } | undefined
      if (n === SIZES[0]) {
        const tb = performance.now()
        const text = JSON.stringify({ ...head, state: serializeDetectState(state!) })
        baseline = { bytes: Buffer.byteLength(text), ms: performance.now() - tb }
        fig.baselineJson = { series: n, bytes: baseline.bytes, ms: Math.round(baseline.ms) }
      }
      const series = state!.series.size
      state = undefined
      const restart = await child(server.url, key)
      const info = await (await jetstreamManager(nc)).streams.info(`KV_${kvName({}, Bucket.Checkpoints)}`, { subjects_filter: `$KV.${kvName({}, Bucket.Checkpoints)}.${key}.>` })
      const row = {
        series,
        rssMb: mb(mem.rss),
        heapMb: mb(mem.heapUsed),
        buildS: Math.round((performance.now() - t0) / 1000),
        firstCkptMb: +(first.bytes / 1048576).toFixed(1),
        firstCkptMs: Math.round(first.snapshotMs + first.storeMs),
        steadyCkptRecords: med.records,
        steadyCkptMb: +(med.bytes / 1048576).toFixed(1),
        steadySnapshotMs: Math.round(med.snapshotMs),
        steadyStoreMs: Math.round(med.storeMs),
        retainedMb: +(med.retained / 1048576).toFixed(1),
        restartMs: restart.ms,
        restartRssMb: restart.rssMb,
        restoredSeries: restart.series,
        kvSubjects: Object.keys(info.state.subjects ?? {}).length,
        bytesPerSeries: Math.round(first.bytes / series),
      }
      rows.push(row)
      console.log(
        `${series} series: RSS ${row.rssMb} MB (heap ${row.heapMb} MB); first checkpoint ${row.firstCkptMb} MB in ${row.firstCkptMs} ms (${row.bytesPerSeries} B/series); steady checkpoint after ${EPOCH} inputs: ${row.steadyCkptRecords} records, ${row.steadyCkptMb} MB, snapshot ${row.steadySnapshotMs} ms + store ${row.steadyStoreMs} ms; retained ${row.retainedMb} MB; restart ${row.restartMs} ms (fresh process, RSS ${row.restartRssMb} MB, ${row.restoredSeries} series); ${row.kvSubjects} KV subjects`,
      )
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
  restoreFrom(process.argv[3], process.argv[4]).then(
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
