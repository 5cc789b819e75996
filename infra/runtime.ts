import type { NatsConnection } from '@nats-io/nats-core'
import { defaultRegistry, FactCodec, type SchemaRegistry } from '../schemas/index.js'
import { DeadLetters, FactPublisher, type Subjects, type TopologyOptions } from '../streams/index.js'
import type { Warehouse } from './clickhouse.js'
import type { BenEnv } from './config.js'
import type { Logger } from './log.js'

// Apart from up.ts (which loads the projections, ClickHouse's client, containers…) so that a
// worker process, which only needs the context, starts without them.

/** What every long-running part of `ben up` gets. */
export interface RuntimeContext {
  readonly env: BenEnv
  readonly nc: NatsConnection
  readonly subjects: Subjects
  readonly topo: TopologyOptions
  readonly codec: FactCodec
  readonly registry: SchemaRegistry
  readonly publisher: FactPublisher
  readonly warehouse: Warehouse
  readonly log: Logger
  /** A DLQ writer for the named stage. */
  dlq(stage: string): DeadLetters
}

/**
 * PubAcks a context's publisher awaits at once by default (BEN_PUBLISH_WINDOW, read with the rest of
 * the environment in config.ts: `env.publishWindow`). The context's publisher carries the routine outputs (scrub's routine lanes, detect,
 * incident, act, DLQ); the alert lanes publish through the alert link's own publisher
 * (processors/runner/alert-link.ts), which this setting does not touch.
 *
 * Why it is a setting: nats-server takes a stream's inbound messages through one queue per stream,
 * in order, so an alert's scrubbed fact and its decision, published to DERIVED, wait behind every
 * routine publish already queued for DERIVED, and the routine publishers' windows bound that queue.
 * A smaller window was measured (issue 8, bench:latency's flood at 13,000/s, BENCH_ALERT_RATE=20,
 * 9 interleaved pairs, 256 against 4,096, load 3–10 per core): alert → decision p99 lower with 256
 * in 7 of the 9 pairs, by less than the spread between runs (256: 114–281 ms, 4,096: 141–522), never
 * under 100 ms, and 2 of 2 steady pairs scrubbed fewer facts/s with 256 (689 and 975 against 3,336
 * and 2,443, at a higher load). No gain shown, so the default stays; the setting lets the next
 * measurement (a quiet machine, where nats-server rather than scrub is the flood's bottleneck) be
 * an A/B of one build.
 *
 * With BEN_PUBLISH_DELAY_MS set, this window is the ceiling and the routine facts' part of it
 * follows the PubAcks' delay (streams/delay-window.ts); unset, the whole window (the default holds
 * back routine facts at the edge: the sidecar's drain and the client).
 */
export const ROUTINE_PUBLISH_WINDOW = 4096

/**
 * The one way a RuntimeContext is built (`ben up`, a worker process, the alert-path thread): a
 * registry, codec and publisher over `nc`; `warehouse` is a getter so a part without ClickHouse
 * says why when asked. Replicated streams: a publish that meets no stream leader (an election
 * after a node died) is sent again, with the same Nats-Msg-Id, until one answers.
 */
export function runtimeContext(parts: {
  readonly env: BenEnv
  readonly nc: NatsConnection
  readonly topo: TopologyOptions & { readonly subjects: Subjects }
  readonly log: Logger
  readonly warehouse: () => Warehouse
}): RuntimeContext {
  const { env, nc, topo, log } = parts
  const subjects = topo.subjects
  const registry = defaultRegistry()
  const codec = new FactCodec(registry)
  // The delay window is the edge's (sidecar, client): derived outputs of facts already admitted are
  // held back only when BEN_PUBLISH_DELAY_MS is set (the flood's alert lane measured as well with the
  // edge alone, and stage outputs are backpressured by the stage's own window).
  const opts = { window: env.publishWindow ?? ROUTINE_PUBLISH_WINDOW, delayTargetMs: env.publishDelayMs ?? 0 }
  const publisher = new FactPublisher(nc, subjects, codec, (topo.replicas ?? 1) > 1 ? { ...opts, waitForStreamMs: 60_000 } : opts)
  return {
    env,
    nc,
    subjects,
    topo,
    codec,
    registry,
    publisher,
    get warehouse(): Warehouse {
      return parts.warehouse()
    },
    log,
    dlq: (stage) => new DeadLetters(publisher, subjects, codec, stage),
  }
}

/** A part of `ben up` (projector, stage runner, simulator): started with the context, stopped in reverse order. */
export interface Service {
  readonly name: string
  stop(): Promise<void>
}
export type ServiceFactory = (ctx: RuntimeContext) => Promise<Service> | Service
