import type { NatsConnection } from '@nats-io/nats-core'
import type { Subscription } from 'rxjs'
import { parseEdgeFact, type CommandFact, type FactCodec } from '../schemas/index.js'
import { Bucket, consumeFacts, DeadLetters, FactPublisher, kvName, openBucket, Subjects, type Logger, type TopologyOptions } from '../streams/index.js'
import { registerKey, TrustWatcher } from '../keys/index.js'
import { createFleet, type Fleet } from './fleet.js'
import { fleetTargets } from './fleet-targets.js'
import type { FleetOptionsInput, ScenarioSpec } from './options.js'
import type { SimTarget } from './target.js'

export interface SimulationOptions {
  readonly hosts: number
  /** Facts per second across the fleet. */
  readonly rate: number
  readonly scenarios: readonly ScenarioSpec[]
  readonly durationMs: number
  readonly seed?: number | string
  /**
   * `live`: facts are published as they happen (event time = now). `backfill`: the whole run's
   * event time lies in the past (ending now) and is published as fast as the bus takes it.
   */
  readonly mode?: 'live' | 'backfill'
  readonly dayMs?: number
  /** Run the simulated targets (verify commands, ack them). Default true. */
  readonly targets?: boolean
}

export interface SimulationDeps {
  readonly nc: NatsConnection
  readonly subjects: Subjects
  readonly codec: FactCodec
  readonly topo: Pick<TopologyOptions, 'streamPrefix'>
  readonly log?: Logger
}

export interface SimulationStats {
  published: number
  stored: number
  duplicate: number
  failed: number
  commands: number
  acks: Record<string, number>
}

export interface Simulation {
  readonly fleet: Fleet
  readonly stats: SimulationStats
  readonly targets: ReadonlyMap<string, SimTarget>
  /** Resolves when the run's event time is over and every fact is acknowledged. */
  readonly published: Promise<void>
  stop(): Promise<void>
}

/**
 * Runs a simulated fleet against Ben: publishes its telemetry (edge shape, validated and
 * converted like any edge input) and runs one simulated target per host that verifies the
 * commands addressed to it and answers with signed acks. The clock is read here, never in the
 * fleet's deterministic core.
 */
export async function runSimulation(deps: SimulationDeps, opts: SimulationOptions): Promise<Simulation> {
  const mode = opts.mode ?? 'live'
  const now = Date.now()
  const startTs = mode === 'backfill' ? now - opts.durationMs : now
  const input: FleetOptionsInput = {
    hosts: opts.hosts,
    seed: opts.seed ?? 7,
    startTs,
    rate: opts.rate,
    scenarios: [...opts.scenarios],
    durationMs: opts.durationMs,
    ...(opts.dayMs ? { dayMs: opts.dayMs } : {}),
  }
  const fleet = createFleet(input)
  const publisher = new FactPublisher(deps.nc, deps.subjects, deps.codec)
  const stats: SimulationStats = { published: 0, stored: 0, duplicate: 0, failed: 0, commands: 0, acks: {} }
  const endTs = startTs + opts.durationMs

  // Targets: sidecar keys registered with their owner, trust kept current from ben-keys.
  let targets = new Map<string, SimTarget>()
  let trust: TrustWatcher | undefined
  let cmdSub: Subscription | undefined
  if (opts.targets !== false) {
    const kv = await openBucket(deps.nc, kvName(deps.topo, Bucket.Keys))
    trust = await TrustWatcher.open(deps.nc, kvName(deps.topo, Bucket.Keys))
    const made = fleetTargets(fleet, { trust: trust.get(), now: () => Date.now() })
    targets = new Map(made.targets)
    for (const [host, key] of made.keys) await registerKey(kv, key, { owner: host })
    trust.onChange((s) => {
      for (const t of targets.values()) t.setTrust(s)
    })
    for (const t of targets.values()) t.setTrust(trust.get())
    const dlq = new DeadLetters(publisher, deps.subjects, deps.codec, 'sim-target')
    cmdSub = consumeFacts(deps.nc, deps.codec, deps.subjects, {
      stream: deps.topo.streamPrefix ? `${deps.topo.streamPrefix}_COMMANDS` : 'COMMANDS',
      durable: 'sim-targets',
      filterSubject: deps.subjects.cmdAll,
      stage: 'sim-target',
      deliver: 'new',
      dlq,
      log: deps.log,
    }).subscribe({
      next: (env) => {
        const f = env.fact
        // The target is who the message was delivered to (`ben.cmd.<target>`), as for a real
        // sidecar subscribed to its own subject; verifyCommand checks the command agrees.
        const target = targets.get(Subjects.lastToken(env.subject))
        // Proposals and rejections are records, not instructions: only issued/approved execute.
        if (!target || f.kind !== 'command' || (f.payload.status !== 'issued' && f.payload.status !== 'approved')) {
          env.ack()
          return
        }
        stats.commands++
        const ack = target.handle(f as CommandFact)
        stats.acks[ack.payload.status] = (stats.acks[ack.payload.status] ?? 0) + 1
        void publisher.send(ack, undefined, (o) => (o.status === 'failed' ? env.nak(1000) : env.ack()))
      },
      error: (err) => deps.log?.error({ err: (err as Error).message }, 'simulated targets stopped'),
    })
  }

  let stopped = false
  const count = (o: { status: 'stored' | 'duplicate' | 'failed' }) => {
    stats[o.status]++
  }
  const publishUntil = async (until: number) => {
    for (const e of fleet.next(until)) {
      const r = parseEdgeFact(e)
      if (!r.ok) {
        deps.log?.error({ reason: r.error.message }, 'simulator produced an invalid fact')
        continue
      }
      stats.published++
      if (!publisher.trySend(r.value, undefined, count)) await publisher.send(r.value, undefined, count)
    }
  }
  const published = (async () => {
    if (mode === 'backfill') {
      const step = 10_000
      for (let t = startTs + step; !stopped; t += step) {
        await publishUntil(Math.min(t, endTs))
        if (t >= endTs) break
      }
    } else {
      while (!stopped) {
        const t = Math.min(Date.now(), endTs)
        await publishUntil(t)
        if (t >= endTs) break
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    await publisher.flush()
  })()

  return {
    fleet,
    stats,
    targets,
    published,
    async stop() {
      stopped = true
      await published.catch(() => undefined)
      cmdSub?.unsubscribe()
      trust?.close()
      await publisher.close()
    },
  }
}
