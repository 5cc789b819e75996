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
  const publisher = new FactPublisher(nc, subjects, codec, (topo.replicas ?? 1) > 1 ? { waitForStreamMs: 60_000 } : {})
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
