import type { Fact, FactCodec } from '../schemas/index.js'
import type { StreamName, Subjects } from '../streams/index.js'

/** Where a row came from: the stream and sequence of the message. */
export interface RowMeta {
  readonly stream: string
  readonly seq: number
  readonly codec: FactCodec
  /** The Avro bytes and writer fingerprint as they arrived, when they were Avro. */
  readonly avro?: { readonly data: Uint8Array; readonly fingerprint: string }
}

/**
 * A projection: which facts it handles, from which stream, and the row each becomes.
 * `toRow` is pure and returns the values in `columns` order (rows go to ClickHouse as
 * JSONCompactEachRow); the projector does batching, de-duplication, inserting and acking.
 */
export interface Projection {
  readonly name: string
  readonly version: number
  readonly table: string
  readonly columns: readonly string[]
  readonly stream: StreamName
  /** Subject filter on the stream (one subject: nats-server 2.9 takes one per consumer). */
  filterSubject?(subjects: Subjects): string
  handles(fact: Fact): boolean
  toRow(fact: Fact, meta: RowMeta): unknown[]
  /** Rows replace each other by key (latest-state tables): no de-duplication by fact id. */
  readonly upsert?: boolean
}
