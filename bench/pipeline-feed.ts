/**
 * The load generator of bench:pipeline, run as its own process so that publishing does not
 * share the pipeline's event loop: a simulated fleet at `--rate` facts/s (0 = as fast as the
 * bus takes them) in live event time, plus, with `--probe`, a
 * series of dedicated calm series that each jump once, so the parent can time publish → anomaly.
 * With `--count N --start-ts T` (flat out) it publishes exactly the first N facts of the fleet
 * starting at event time T: the same backlog in every run.
 */
import { connect } from '@nats-io/transport-node'
import { FactCodec, parseEdgeFact } from '../schemas/index.js'
import { FactPublisher, Subjects } from '../streams/index.js'
import { createFleet } from '../simulate/index.js'

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : dflt
}

async function main(): Promise<void> {
  const url = arg('url', 'nats://127.0.0.1:4222')
  const rate = Number(arg('rate', '0'))
  const seconds = Number(arg('seconds', '60'))
  const probe = process.argv.includes('--probe')
  const count = Number(arg('count', '0'))
  const startTs = Number(arg('start-ts', '0'))
  const nc = await connect({ servers: url })
  const publisher = new FactPublisher(nc, new Subjects(), new FactCodec(), { window: 8192 })
  const start = Date.now()
  const end = count > 0 ? Infinity : start + seconds * 1000
  // A backlog (--count) spans minutes of event time with a CPU runaway, a drift and a secret leak in it,
  // so that detect, policy, act and incident have work (their outputs are compared across runs).
  const fleetRate = Number(arg('fleet-rate', rate > 0 ? String(rate) : '50000'))
  const span = count > 0 ? (count / fleetRate) * 1000 : 0
  const scenarios =
    count > 0
      ? [
          { kind: 'cpu-runaway' as const, atMs: Math.round(span * 0.3), durationMs: Math.round(span * 0.4) },
          { kind: 'secret-leak' as const, atMs: Math.round(span * 0.5) },
          { kind: 'drift' as const, atMs: Math.round(span * 0.2), durationMs: Math.round(span * 0.6) },
        ]
      : []
  const fleet = createFleet({ hosts: Number(arg('hosts', '50')), seed: 'bench', startTs: startTs || start, rate: fleetRate, dayMs: 3_600_000, scenarios })
  let sent = 0
  let failed = 0
  const tally = (o: { status: string }) => {
    if (o.status === 'failed') failed++
  }
  let probeN = 0
  let lastProbe = start
  while (Date.now() < end) {
    const now = Date.now()
    // Flat-out mode generates ahead of the clock in chunks; paced mode follows the clock.
    const until = rate > 0 ? now : fleet.cursor + 200
    for (const e of fleet.next(until)) {
      if (count > 0 && sent >= count) break
      const r = parseEdgeFact(e)
      if (!r.ok) continue
      sent++
      if (!publisher.trySend(r.value, undefined, tally)) await publisher.send(r.value, undefined, tally)
    }
    if (count > 0 && sent >= count) break
    if (probe) {
      // Probe series at 20 points/s each: calm (10 ± 0.3) for 8 s, then a lasting jump to 100.
      // The detector flags a jump on its 3rd point; the anomaly's ts is that point's publish time.
      // A new probe series starts every second, so each jump is the first of its series.
      for (let t = lastProbe + 50; t <= now; t += 50) {
        probeN++
        const elapsed = t - start
        const series = Math.floor(elapsed / 1000)
        for (let k = Math.max(0, series - 9); k <= series; k++) {
          const age = elapsed - k * 1000
          const jumped = age >= 8000
          const r = parseEdgeFact({
            lane: 'metric',
            source: 'probe',
            ts: t,
            name: 'probe.latency',
            value: jumped ? 100 + (probeN % 3) : 10 + Math.sin(probeN + k) * 0.3,
            labels: { series: String(k) },
          })
          if (r.ok && !publisher.trySend(r.value, undefined, tally)) await publisher.send(r.value, undefined, tally)
        }
        lastProbe = t
      }
    }
    if (rate > 0) await new Promise((r) => setTimeout(r, 20))
    else await new Promise((r) => setImmediate(r))
  }
  await publisher.close()
  process.stdout.write(JSON.stringify({ sent, failed, seconds: (Date.now() - start) / 1000 }) + '\n')
  await nc.close()
}

main().catch((err) => {
  process.stderr.write(`pipeline-feed: ${(err as Error).stack}\n`)
  process.exit(1)
})
