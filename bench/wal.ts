/**
 * bench:wal — the sidecar WAL's append rate of ~200-byte records under each fsync policy,
 * against a naive baseline in the same run (one fs appendFile, plus one fsync, per record),
 * and the drain rate (read + ack) of a 1,000,000-record backlog.
 * Prints a table, then one JSON line. Not a test: nothing here passes or fails.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/wal.js
 *   BENCH_N=... scales the non-fsync-bound runs; BENCH_SYNC_N the fsync-per-record runs;
 *   BENCH_DRAIN_N the backlog (default 1,000,000); BENCH_DIR picks the disk (default the OS temp dir).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openWal, type WalOptions } from '../sidecar/wal/index.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const SYNC_N = Number(process.env.BENCH_SYNC_N ?? 2_000)
const DRAIN_N = Number(process.env.BENCH_DRAIN_N ?? 1_000_000)
const SIZE = 200
const base = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-wal-'))

const records = Array.from({ length: 4096 }, (_, i) => {
  const b = Buffer.alloc(SIZE)
  b.write(`{"id":"fact-${i}","lane":"metric","source":"web-${i % 50}","name":"cpu.load","value":${(i % 1000) / 7}}`)
  return b
})
const record = (i: number): Buffer => records[i % records.length]

interface Row {
  readonly name: string
  readonly records: number
  readonly secs: number
  readonly fsyncs?: number
}
const rows: Row[] = []
const rate = (r: Row): number => r.records / r.secs

let runNo = 0
const freshDir = (): string => join(base, `run-${runNo++}`)

/** Naive baseline: one appendFile per record on an open handle, plus an fsync per record if `sync`. */
async function naive(name: string, n: number, sync: boolean): Promise<void> {
  const fh = await open(join(base, `naive-${runNo++}.log`), 'a')
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    await fh.appendFile(record(i))
    if (sync) await fh.sync()
  }
  rows.push({ name, records: n, secs: (performance.now() - t0) / 1000, fsyncs: sync ? n : 0 })
  await fh.close()
}

/** `inFlight` append calls of `perCall` records each kept in flight until n records are appended. */
async function appends(name: string, options: Omit<WalOptions, 'dir'>, n: number, inFlight: number, perCall: number): Promise<void> {
  const wal = await openWal({ dir: freshDir(), ...options })
  let next = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (next < n) {
      const from = next
      const k = Math.min(perCall, n - from)
      next += k
      if (k === 1) await wal.append(record(from))
      else await wal.append(Array.from({ length: k }, (_, j) => record(from + j)))
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const secs = (performance.now() - t0) / 1000
  rows.push({ name, records: n, secs, fsyncs: wal.stats().counters.fsyncs })
  await wal.close()
}

async function drain(): Promise<{ fill: Row; read: Row; tail: Row; ackEvery: number }> {
  const dir = freshDir()
  const ackEvery = 10_000
  let wal = await openWal({ dir, fsync: 'batch', maxBytes: 2 * 1024 * 1024 * 1024 })
  let t0 = performance.now()
  const batch = Array.from({ length: 1000 }, (_, j) => record(j))
  const inflight: Promise<unknown>[] = []
  for (let i = 0; i < DRAIN_N; i += 1000) {
    inflight.push(wal.append(batch))
    if (inflight.length >= 8) await inflight.shift()
  }
  await Promise.all(inflight)
  const fill: Row = { name: 'backlog fill: batch, 1000/call, 8 in flight', records: DRAIN_N, secs: (performance.now() - t0) / 1000, fsyncs: wal.stats().counters.fsyncs }
  await wal.close()

  // Drain 1: read(from, 4096) + ack every ackEvery records, as a publisher loop would (after a restart: cold cursor).
  wal = await openWal({ dir })
  t0 = performance.now()
  let next = wal.ackedSeq + 1
  let sinceAck = 0
  let bytes = 0
  for (;;) {
    const got = await wal.read(next, 4096)
    if (got.length === 0) break
    for (const r of got) bytes += r.data.length
    next = got[got.length - 1].seq + 1
    sinceAck += got.length
    if (sinceAck >= ackEvery) {
      await wal.ack(next - 1)
      sinceAck = 0
    }
  }
  await wal.ack(next - 1)
  const read: Row = { name: `drain: read(4096) + ack every ${ackEvery}`, records: next - 1, secs: (performance.now() - t0) / 1000 }
  if (bytes !== DRAIN_N * SIZE || wal.stats().depthRecords !== 0) throw new Error(`drain read ${bytes} bytes, depth ${wal.stats().depthRecords}`)
  await wal.close()

  // Drain 2: the same backlog again through tail() (one record per iteration).
  rmSync(dir, { recursive: true, force: true })
  wal = await openWal({ dir, fsync: 'batch', maxBytes: 2 * 1024 * 1024 * 1024 })
  for (let i = 0; i < DRAIN_N; i += 1000) await wal.append(batch)
  t0 = performance.now()
  let seen = 0
  const ac = new AbortController()
  for await (const r of wal.tail(1, { signal: ac.signal, batch: 4096 })) {
    seen++
    if (seen % ackEvery === 0) await wal.ack(r.seq)
    if (seen === DRAIN_N) {
      await wal.ack(r.seq)
      break
    }
  }
  const tail: Row = { name: `drain: tail() + ack every ${ackEvery}`, records: seen, secs: (performance.now() - t0) / 1000 }
  await wal.close()
  return { fill, read, tail, ackEvery }
}

function printTable(list: readonly Row[]): void {
  const head = ['run', 'records', 'seconds', 'records/s', 'MB/s', 'fsyncs']
  const body = list.map((r) => [
    r.name,
    String(r.records),
    r.secs.toFixed(2),
    Math.round(rate(r)).toLocaleString('en-US'),
    ((rate(r) * SIZE) / 1e6).toFixed(1),
    r.fsyncs === undefined ? '' : String(r.fsyncs),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')
  process.stdout.write([line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n') + '\n')
}

async function main(): Promise<void> {
  try {
    await naive('naive: appendFile + fsync per record', SYNC_N, true)
    await appends('wal always, 1 in flight', { fsync: 'always' }, SYNC_N, 1, 1)
    await appends('wal batch, 1 in flight', { fsync: 'batch' }, SYNC_N, 1, 1)
    await appends('wal always, 64 in flight', { fsync: 'always' }, SYNC_N, 64, 1)
    await appends('wal batch, 64 in flight', { fsync: 'batch' }, N, 64, 1)
    await appends('wal batch, 1024 in flight', { fsync: 'batch' }, N, 1024, 1)
    await appends('wal batch, 100/call, 16 in flight', { fsync: 'batch' }, N * 5, 16, 100)
    await naive('naive: appendFile, no fsync', N, false)
    await appends('wal interval 100ms, 64 in flight', { fsync: 'interval', fsyncIntervalMs: 100 }, N, 64, 1)
    const d = await drain()
    rows.push(d.fill, d.read, d.tail)
    printTable(rows)
    const r = (name: string): number => Math.round(rate(rows.find((x) => x.name === name)!))
    process.stdout.write(
      JSON.stringify({
        bench: 'wal',
        recordBytes: SIZE,
        naiveFsyncPerRecord: r('naive: appendFile + fsync per record'),
        alwaysSerial: r('wal always, 1 in flight'),
        batchSerial: r('wal batch, 1 in flight'),
        always64: r('wal always, 64 in flight'),
        batch64: r('wal batch, 64 in flight'),
        batch1024: r('wal batch, 1024 in flight'),
        batchArrays: r('wal batch, 100/call, 16 in flight'),
        naiveNoFsync: r('naive: appendFile, no fsync'),
        interval64: r('wal interval 100ms, 64 in flight'),
        backlogFill: Math.round(rate(d.fill)),
        drainRead: Math.round(rate(d.read)),
        drainTail: Math.round(rate(d.tail)),
        drainRecords: DRAIN_N,
        ackEvery: d.ackEvery,
      }) + '\n',
    )
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

await main()
