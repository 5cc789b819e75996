/**
 * The load generator of bench:latency, in its own process (publishing does not share Ben's
 * event loop). Event time is stamped when the fact is handed to the publisher, so `stored − ts`
 * of any derived fact is the time from publish to that hop. Loads:
 *
 * - `sparse`: 20 sources, 1 fact/s each;
 * - `bursty`: 1,000 facts every 5 s;
 * - `steady`: `--rate` facts/s (default 10,000);
 * - `flood`: routine facts at `--rate` facts/s (the parent passes 2× what the chain sustained).
 *
 * Over every load: probe series (`cpu.load` of a fresh job each, 20 points/s, calm for 8–10 s, then
 * a lasting jump: anomaly → decision → signed command → ack; series k on the k-th of
 * `--probe-sources` in turn, hosts of the phase's own so that their runaways are throttled and
 * acked whatever an earlier phase did), and alerts
 * (source web-2, BENCH_ALERT_RATE per second, default 2: the alert lane, alert → decision).
 *
 * The routine load and the probes/alerts are different sources, as they would be in a fleet:
 * `--part routine` and `--part probes` run them in two processes (bench:latency starts both), each
 * with its own NATS connection, publisher and event loop, so a routine load the server cannot take
 * as fast as it is offered slows the routine publisher only (its backlog is counted as
 * `routineBehind`), never the probes' and alerts' publishing or their event time. (In one process,
 * a probe stamped with its publish time waited for the flood's publishing slice on the shared event
 * loop before its bytes were written: up to ~100 ms of the flood's alert → stored was the feed's.)
 * Prints one JSON line at the end.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { FactCodec, parseEdgeFact, type Fact } from '../schemas/index.js'
import { FactPublisher, Subjects } from '../streams/index.js'
import { alertTraceOn, traceAlert } from '../processors/runner/index.js'
import { readEnv } from '../infra/index.js'

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Alerts per second (`--alert-rate`, which bench:latency sets per phase; default 2, at most 1,000).
 * At 2/s a 20 s phase has 40 alerts and its p99 is their slowest; at 20/s, 400, and the p99 is the
 * 4th slowest. The alerts are a few facts beside a flood of thousands per second: the load barely
 * changes.
 */
const ALERT_EVERY_MS = 1000 / Math.min(1000, Math.max(0.1, Number(arg('alert-rate', '2')) || 2))

class Sender {
  sent = 0
  failed = 0
  readonly publisher: FactPublisher
  private readonly count = (o: { status: string }) => {
    if (o.status === 'failed') this.failed++
  }
  constructor(readonly nc: NatsConnection) {
    this.publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { window: 8192, delayTargetMs: readEnv().publishDelayMs })
  }
  /** Publishes an edge fact stamped with the time it is handed to the publisher. */
  async send(edge: Record<string, unknown>): Promise<void> {
    const r = parseEdgeFact({ ...edge, ts: Date.now() })
    if (!r.ok) throw new Error(r.error.message)
    this.sent++
    const f: Fact = r.value
    if (alertTraceOn && f.lane === 'alert') return this.sendTraced(f)
    if (!this.publisher.trySend(f, undefined, this.count)) await this.publisher.send(f, undefined, this.count)
  }
  /** An alert with BEN_ALERT_TRACE on: its publish time (its `ts`) and its PubAck traced. */
  private async sendTraced(f: Fact): Promise<void> {
    traceAlert('publish', 'feed', f, f.ts)
    const cb = (o: { status: string }) => {
      traceAlert('puback', 'feed', f)
      this.count(o)
    }
    if (!this.publisher.trySend(f, undefined, cb)) await this.publisher.send(f, undefined, cb)
  }
  async close(): Promise<void> {
    await this.publisher.close()
    await this.nc.close()
  }
}

async function main(): Promise<void> {
  const url = arg('url', 'nats://127.0.0.1:4222')
  const load = arg('load', 'sparse')
  const rate = Number(arg('rate', '10000'))
  const seconds = Number(arg('seconds', '20'))
  const probeSources = arg('probe-sources', 'web-1').split(',')
  const bulk = new Sender(await connect({ servers: url, name: 'bench-routine' }))
  const probes = new Sender(await connect({ servers: url, name: 'bench-probes' }))
  const start = Date.now()
  const end = start + seconds * 1000
  let n = 0
  const routine = (i: number) => bulk.send({ lane: 'metric', source: `src-${i % 20}`, name: 'mem.used', value: 50 + (++n % 7) + (n % 1_000_000) / 1e7, labels: { load } })
  /** Routine facts the routine publisher could not offer in time (the server's pace, not Ben's). */
  let routineBehind = 0

  const routineLoop = async () => {
    let lastTick = start
    let debt = 0
    let lastBurst = start - 5000
    let lastSparse = start
    while (Date.now() < end) {
      const now = Date.now()
      if (load === 'sparse') {
        for (; lastSparse + 1000 <= now; lastSparse += 1000) for (let i = 0; i < 20; i++) await routine(i)
      } else if (load === 'bursty') {
        if (now - lastBurst >= 5000) {
          lastBurst = now
          for (let i = 0; i < 1000; i++) await routine(i)
        }
      } else {
        debt += ((now - lastTick) * rate) / 1000
        lastTick = now
        // More than a second behind the offered rate: that much was not offered (counted).
        if (debt > rate) {
          routineBehind += Math.floor(debt - rate)
          debt -= Math.floor(debt - rate)
        }
        // In slices, so that the loop keeps its pace and never runs unbounded.
        for (let k = 0; debt >= 1 && k < 2000; debt--, k++) await routine(n)
      }
      await sleep(5)
    }
  }

  /**
   * How long each probe series stays calm (ms): 8 s, and a random part of the 2 s between two
   * series, drawn for each. A fleet's anomalies keep no time with its bursts. With a fixed 8 s, the
   * jumps fell on a 2 s grid (8, 10, … 18 s into the phase) and the bursts on a 5 s grid (0, 5, 10,
   * 15 s) of a process started at the same moment, and whether the jump at 10 s landed in that
   * burst's wake (20–54 ms behind 1,000 facts: the bursty misses at 10.9 s of earlier rounds)
   * depended only on which of the two processes started first. Drawn, a jump is inside a burst's
   * wake about as often as the wake's share of the 5 s.
   */
  const calmMs = Array.from({ length: Math.ceil(seconds / 2) + 1 }, () => 8000 + Math.floor(Math.random() * 2000))
  const probeLoop = async () => {
    let probeN = 0
    let lastAlert = start
    for (let tick = start + 50; Date.now() < end; tick += 50) {
      const wait = tick - Date.now()
      if (wait > 0) await sleep(wait)
      // Probes: a new series every 2 s; each calm (10 ± 0.3) for calmMs[k], then jumps to 100 for good.
      probeN++
      const t = Date.now()
      const series = Math.floor((t - start) / 2000)
      for (let k = Math.max(0, series - 5); k <= series; k++) {
        const age = t - start - k * 2000
        await probes.send({
          lane: 'metric',
          source: probeSources[k % probeSources.length],
          name: 'cpu.load',
          value: age >= calmMs[k] ? 100 + (probeN % 3) : 10 + Math.sin(probeN + k) * 0.3,
          labels: { job: `probe-${load}-${k}` },
        })
      }
      for (; lastAlert + ALERT_EVERY_MS <= t; lastAlert += ALERT_EVERY_MS) {
        await probes.send({ lane: 'alert', source: 'web-2', rule: 'bench.alert', severity: 'high', message: `bench alert ${probes.sent}`, attrs: { load } })
      }
    }
  }

  // The routine publisher's window (BEN_PUBLISH_DELAY_MS) every 100 ms: how far it held the load back.
  const windows: number[] = []
  const sampler = setInterval(() => windows.push(bulk.publisher.routineWindow), 100)
  const part = arg('part', 'both')
  await Promise.all([part !== 'probes' ? routineLoop() : undefined, part !== 'routine' ? probeLoop() : undefined])
  clearInterval(sampler)
  windows.sort((a, b) => a - b)
  const elapsed = (Date.now() - start) / 1000
  await Promise.all([bulk.close(), probes.close()])
  process.stdout.write(
    JSON.stringify({
      sent: bulk.sent + probes.sent,
      routine: bulk.sent,
      probes: probes.sent,
      failed: bulk.failed + probes.failed,
      routineBehind,
      routineWindow: [windows[0] ?? null, windows[windows.length >> 1] ?? null],
      seconds: elapsed,
    }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`latency-feed: ${(err as Error).stack}\n`)
  process.exit(1)
})
