/**
 * bench:nats-cost — nats-server's CPU per JetStream message for messages shaped like the sidecar
 * drain's, and what each part of that shape costs. A raw nats.go publisher (bench/go/natscost.go,
 * compiled at run time as bench:otlp's baseline is) sends acknowledged publishes to a fresh
 * nats-server with Ben's topology (FACTS: file storage, 2 minutes' duplicate window, 7 days'
 * max age); the bench reads the server's CPU (/proc/<pid>/stat) around 200,000 messages after a
 * warm-up. The reference shape is the sidecar's in bench:otlp (one subject, Nats-Msg-Id
 * `<source>:<32 hex>`, Ben-Schema, Ben-Schema-Fp, Ben-Sidecar-Seq, ~420 B of Avro) paced at
 * 40,000 messages/s in bursts of 2048 with 8192 PubAcks awaited, about what the drain does at
 * bench:otlp's rate; every other row changes one thing. Rows are run interleaved, BENCH_REPS times
 * (default 3), each on a fresh server; the table gives medians. Prints the table, then one JSON line.
 *
 *   npm run build && npm run bench:nats-cost
 *   BENCH_N (default 200,000) messages a run; BENCH_REPS (default 3)
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { startNatsServer } from '../infra/index.js'
import { StreamAdmin, Subjects } from '../streams/index.js'
import { printTable } from '../cli/output.js'
import { compileGo } from './go-baseline.js'
import { procCpu } from './proc-cpu.js'
import { childResult } from './child-result.js'

const N = Number(process.env.BENCH_N ?? 200_000)
const REPS = Number(process.env.BENCH_REPS ?? 3)

interface Shape {
  readonly name: string
  readonly window: number
  readonly subjects: number
  readonly benHeaders: boolean
  readonly msgId: boolean
  readonly payload: number
  readonly rate: number
  readonly burst: number
  readonly dupMs: number
}
const ref: Shape = {
  name: 'the sidecar drain’s shape (reference)',
  window: 8192,
  subjects: 1,
  benHeaders: true,
  msgId: true,
  payload: 420,
  rate: 40_000,
  burst: 2048,
  dupMs: 120_000,
}
const shapes: Shape[] = [
  ref,
  { ...ref, name: 'no Ben-* headers (Nats-Msg-Id only)', benHeaders: false },
  { ...ref, name: 'Ben-* headers, no Nats-Msg-Id', msgId: false },
  { ...ref, name: 'no headers at all', benHeaders: false, msgId: false },
  { ...ref, name: 'duplicate window 10 s (not 2 min)', dupMs: 10_000 },
  { ...ref, name: '4 subjects (not 1)', subjects: 4 },
  { ...ref, name: 'bursts of 256 (not 2048)', burst: 256 },
  { ...ref, name: 'bursts of 8192, 16384 awaited', burst: 8192, window: 16384 },
  { ...ref, name: 'payload 150 B (not 420)', payload: 150 },
  { ...ref, name: 'payload 1000 B', payload: 1000 },
  { ...ref, name: 'unpaced (as fast as PubAcks come back)', rate: 0 },
]

interface Outcome {
  serverUs: number
  clientUs: number
  rate: number
}

async function measure(bin: string, s: Shape): Promise<Outcome> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ben-bench-natscost-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  try {
    const nc = await connect({ servers: server.url })
    await (await StreamAdmin.open(nc)).ensureTopology({ subjects: new Subjects(), duplicateWindowMs: s.dupMs })
    await nc.close()
    const args = [server.url, N, s.window, s.subjects, s.benHeaders ? 'ben' : 'none', s.msgId ? 1 : 0, s.payload, s.rate, s.burst].map(String)
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    let c0 = 0
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (c0 === 0 && out.includes('"warm"')) {
        c0 = procCpu(server.pid) // the warm-up is done: measure from here
        child.stdin.write('g')
      }
    })
    const r = await childResult<{ n: number; failed: number; secs: number; cpuSecs: number }>(child, 'natscost')
    const serverCpu = procCpu(server.pid) - c0
    if (r.failed > 0) throw new Error(`${s.name}: ${r.failed} publishes failed`)
    return { serverUs: (serverCpu * 1e6) / N, clientUs: (r.cpuSecs * 1e6) / N, rate: N / r.secs }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function main(): Promise<void> {
  const prog = compileGo('natscost.go')
  if (!prog.ok) {
    process.stdout.write(`bench:nats-cost skipped: ${prog.reason}\n`)
    return
  }
  const got = new Map<Shape, Outcome[]>(shapes.map((s) => [s, []]))
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const s of shapes) {
        const o = await measure(prog.bin, s)
        got.get(s)!.push(o)
        process.stderr.write(`  ${rep + 1}/${REPS} ${s.name}: nats-server ${o.serverUs.toFixed(1)} µs/message\n`)
      }
    }
  } finally {
    rmSync(prog.dir, { recursive: true, force: true })
  }
  const refUs = median(got.get(ref)!.map((o) => o.serverUs))
  process.stdout.write(`${N.toLocaleString('en-US')} messages a run, medians of ${REPS} interleaved runs, each on a fresh nats-server\n`)
  const rows = shapes.map((s) => {
    const os = got.get(s)!
    const us = median(os.map((o) => o.serverUs))
    return { s, us, all: os.map((o) => +o.serverUs.toFixed(1)), clientUs: median(os.map((o) => o.clientUs)), rate: Math.round(median(os.map((o) => o.rate))) }
  })
  printTable(
    ['shape', 'nats-server µs CPU/message (all runs)', 'vs reference', 'publisher µs', 'messages/s'],
    rows.map((r) => [
      r.s.name,
      `${r.us.toFixed(1)} (${r.all.join(', ')})`,
      `${r.us - refUs >= 0 ? '+' : ''}${(r.us - refUs).toFixed(1)} µs`,
      r.clientUs.toFixed(1),
      r.rate.toLocaleString('en-US'),
    ]),
  )
  const figures = Object.fromEntries(
    rows.map((r) => [
      r.s.name,
      { server_us: +r.us.toFixed(1), server_us_runs: r.all, vs_reference_us: +(r.us - refUs).toFixed(1), publisher_us: +r.clientUs.toFixed(1), per_s: r.rate },
    ]),
  )
  process.stdout.write(JSON.stringify({ bench: 'nats-cost', messages: N, reps: REPS, reference: ref.name, shapes: figures }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`bench:nats-cost failed: ${(err as Error).stack}\n`)
  process.exitCode = 1
})
