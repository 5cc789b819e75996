/**
 * bench:alert-stream — does a stream of its own take an urgent message out of a flood's queue?
 * Raw JetStream, no Ben: one process floods `f.flood.<s>` at BENCH_FLOOD_RATE (6,000/s) with
 * 300-byte messages, another drains them (one ack-all pull consumer), while this process publishes
 * an alert every 100 ms and reads it back through a durable consumer filtered to the alert subject.
 * Two layouts, interleaved BENCH_PAIRS (3) times for BENCH_SECONDS (15) each:
 * - shared: the alert subject is in the flooded stream (as `ben.fact.alert.*` is in FACTS, and
 *   `ben.scrubbed.alert.*` and `ben.decision.*` are in DERIVED);
 * - separate: the alert subject has a stream of its own.
 * Prints each run's alert publish → stored and publish → delivered p50/p99/max (ms), then one JSON line.
 * This is the measurement behind issue 8's lead for the flooded alert lane; Ben's layout is unchanged.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { build } from 'hdr-histogram-js'
import { startNatsServer } from '../infra/index.js'
import { printTable } from '../cli/output.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15)
const RATE = Number(process.env.BENCH_FLOOD_RATE ?? 6000)
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3)
const LAYOUTS = ['shared', 'separate'] as const
type Layout = (typeof LAYOUTS)[number]
const me = fileURLToPath(import.meta.url)
const tick = () => new Promise<void>((r) => setImmediate(r))
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The flood: RATE messages/s of 300 bytes over 20 subjects, at most 2,000 PubAcks outstanding. */
async function flood(url: string): Promise<void> {
  const nc = await connect({ servers: url })
  const js = jetstream(nc)
  const data = new Uint8Array(300)
  const t0 = Date.now()
  const end = t0 + SECONDS * 1000
  let n = 0
  let inFlight = 0
  while (Date.now() < end) {
    if (n > ((Date.now() - t0) * RATE) / 1000) {
      await sleep(1)
      continue
    }
    while (inFlight >= 2000) await tick()
    inFlight++
    const done = () => void inFlight--
    js.publish(`f.flood.s${n % 20}`, data).then(done, done)
    if ((++n & 255) === 0) await tick()
  }
  while (inFlight > 0) await sleep(10)
  process.stdout.write(JSON.stringify({ published: n }) + '\n')
  await nc.close()
}

/** The flood's reader: one ack-all pull consumer, acked every 500 messages. */
async function drain(url: string): Promise<void> {
  const nc = await connect({ servers: url })
  const messages = await (await jetstream(nc).consumers.get('F', 'drain')).consume({ max_messages: 1000 })
  let n = 0
  setTimeout(() => messages.stop(), SECONDS * 1000 + 2000)
  for await (const m of messages) if (++n % 500 === 0) m.ack()
  process.stdout.write(JSON.stringify({ drained: n }) + '\n')
  await nc.close()
}

function child(role: string, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [me, role, url], { stdio: ['ignore', 'ignore', 'inherit'] })
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${role} exited ${code}`))))
  })
}

interface Run {
  readonly layout: Layout
  readonly alerts: number
  readonly stored: { p50: number; p99: number; max: number }
  readonly delivered: { p50: number; p99: number; max: number }
}

async function run(layout: Layout): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-alert-stream-'))
  const server = await startNatsServer({ storeDir: join(dir, 'nats') })
  const nc = await connect({ servers: server.url })
  try {
    const jsm = await jetstreamManager(nc)
    const subject = layout === 'shared' ? 'f.alert.x' : 'a.alert.x'
    await jsm.streams.add({ name: 'F', subjects: layout === 'shared' ? ['f.>'] : ['f.flood.>'] })
    if (layout === 'separate') await jsm.streams.add({ name: 'A', subjects: ['a.>'] })
    const alertStream = layout === 'shared' ? 'F' : 'A'
    await jsm.consumers.add('F', { durable_name: 'drain', filter_subject: 'f.flood.>', ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All, max_ack_pending: 10_000 })
    await jsm.consumers.add(alertStream, { durable_name: 'alerts', filter_subject: subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All })
    const js = jetstream(nc)
    const hist = () => build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000, numberOfSignificantValueDigits: 3 })
    const stored = hist()
    const delivered = hist()
    const messages = await (await js.consumers.get(alertStream, 'alerts')).consume({ max_messages: 100 })
    const reading = (async () => {
      for await (const m of messages) {
        const sent = new DataView(m.data.buffer, m.data.byteOffset, 8).getFloat64(0)
        delivered.recordValue(Math.max(1, Math.round(Date.now() - sent)))
        stored.recordValue(Math.max(1, Math.round(Number(m.info.timestampNanos) / 1e6 - sent)))
        m.ack()
      }
    })()
    const load = Promise.all([child('flood', server.url), child('drain', server.url)])
    await sleep(1000)
    let sent = 0
    for (const end = Date.now() + (SECONDS - 2) * 1000; Date.now() < end; sent++) {
      const d = new Uint8Array(64)
      new DataView(d.buffer).setFloat64(0, Date.now())
      js.publish(subject, d).catch(() => undefined)
      await sleep(100)
    }
    await load
    for (const deadline = Date.now() + 30_000; delivered.totalCount < sent && Date.now() < deadline; ) await sleep(50)
    messages.stop()
    await reading
    const fig = (h: typeof stored) => ({ p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), max: h.maxValue })
    return { layout, alerts: delivered.totalCount, stored: fig(stored), delivered: fig(delivered) }
  } finally {
    await nc.close()
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const runs: Run[] = []
  for (let i = 0; i < PAIRS; i++)
    for (const layout of i % 2 ? [...LAYOUTS].reverse() : LAYOUTS) {
      process.stderr.write(`bench:alert-stream: ${layout}, flood ${RATE}/s for ${SECONDS} s (load ${loadavg()[0].toFixed(1)})…\n`)
      runs.push(await run(layout))
    }
  const cell = (x: { p50: number; p99: number; max: number }) => `${x.p50} / ${x.p99} / ${x.max}`
  printTable(
    ['layout', 'alerts', 'publish → stored ms p50/p99/max', 'publish → delivered ms p50/p99/max'],
    runs.map((r) => [r.layout, String(r.alerts), cell(r.stored), cell(r.delivered)]),
  )
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const out: Record<string, unknown> = { bench: 'alert-stream', seconds: SECONDS, flood_rate: RATE, load_per_core: +(loadavg()[0] / cpus().length).toFixed(2) }
  for (const l of LAYOUTS) {
    const mine = runs.filter((r) => r.layout === l)
    out[`${l}_delivered_p99_ms`] = mine.map((r) => r.delivered.p99)
    out[`${l}_delivered_p99_median_ms`] = median(mine.map((r) => r.delivered.p99))
    out[`${l}_stored_p99_ms`] = mine.map((r) => r.stored.p99)
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

const [role, url] = process.argv.slice(2)
const job = role === 'flood' ? flood(url) : role === 'drain' ? drain(url) : main()
job.then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench:alert-stream failed: ${err.stack}\n`)
    process.exit(1)
  },
)
