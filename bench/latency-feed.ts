/**
 * The load generator of bench:latency, in its own process (publishing does not share Ben's
 * event loop). Event time is publish time, so `stored − ts` of any derived fact is the time from
 * publish to that hop. Loads:
 *
 * - `sparse`: 20 sources, 1 fact/s each;
 * - `bursty`: 1,000 facts every 5 s;
 * - `steady`: `--rate` facts/s (default 10,000);
 * - `flood`: routine facts at `--rate` facts/s (the parent passes 2× what the chain sustained).
 *
 * Over every load: probe series (source web-1, `cpu.load` of a fresh job each, 20 points/s,
 * calm for 8 s, then a lasting jump: anomaly → decision → signed command → ack), and alerts
 * (source web-2, 2/s: the alert lane, alert → decision). Prints one JSON line at the end.
 */
import { connect } from '@nats-io/transport-node'
import { FactCodec, parseEdgeFact, type Fact } from '../schemas/index.js'
import { FactPublisher, Subjects } from '../streams/index.js'

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

async function main(): Promise<void> {
  const url = arg('url', 'nats://127.0.0.1:4222')
  const load = arg('load', 'sparse')
  const rate = Number(arg('rate', '10000'))
  const seconds = Number(arg('seconds', '20'))
  const nc = await connect({ servers: url })
  const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { window: 8192 })
  let sent = 0
  let failed = 0
  const count = (o: { status: string }) => {
    if (o.status === 'failed') failed++
  }
  const send = async (edge: Record<string, unknown>) => {
    const r = parseEdgeFact(edge)
    if (!r.ok) return
    sent++
    const f: Fact = r.value
    if (!publisher.trySend(f, undefined, count)) await publisher.send(f, undefined, count)
  }
  const start = Date.now()
  const end = start + seconds * 1000
  let n = 0
  const routine = async (ts: number, i: number) => {
    n++
    await send({ lane: 'metric', source: `src-${i % 20}`, ts, name: 'mem.used', value: 50 + (n % 7), labels: { load } })
  }
  let lastProbe = start
  let lastAlert = start
  let lastSparse = start
  let lastBurst = start - 5000
  let debt = 0
  let lastTick = start
  let probeN = 0
  while (Date.now() < end) {
    const now = Date.now()
    if (load === 'sparse') {
      for (; lastSparse + 1000 <= now; lastSparse += 1000) for (let i = 0; i < 20; i++) await routine(now, i)
    } else if (load === 'bursty') {
      if (now - lastBurst >= 5000) {
        lastBurst = now
        for (let i = 0; i < 1000; i++) await routine(now, i)
      }
    } else {
      debt += ((now - lastTick) * rate) / 1000
      lastTick = now
      for (; debt >= 1; debt--) await routine(now, n)
    }
    // Probes: a new series every 2 s; each calm (10 ± 0.3) for 8 s, then jumps to 100 for good.
    for (let t = lastProbe + 50; t <= now; t += 50) {
      probeN++
      const series = Math.floor((t - start) / 2000)
      for (let k = Math.max(0, series - 5); k <= series; k++) {
        const age = t - start - k * 2000
        await send({ lane: 'metric', source: 'web-1', ts: t, name: 'cpu.load', value: age >= 8000 ? 100 + (probeN % 3) : 10 + Math.sin(probeN + k) * 0.3, labels: { job: `probe-${load}-${k}` } })
      }
      lastProbe = t
    }
    for (; lastAlert + 500 <= now; lastAlert += 500) {
      await send({ lane: 'alert', source: 'web-2', ts: now, rule: 'bench.alert', severity: 'high', message: `bench alert ${sent}`, attrs: { load } })
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  await publisher.close()
  process.stdout.write(JSON.stringify({ sent, failed, seconds: (Date.now() - start) / 1000 }) + '\n')
  await nc.close()
}

main().catch((err) => {
  process.stderr.write(`latency-feed: ${(err as Error).stack}\n`)
  process.exit(1)
})
