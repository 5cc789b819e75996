import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { Header } from '../schemas/codec.js' // the leaf: `ben streams` loads admin.ts alone
import { consumerLag, type ConsumerLag } from './lag.js'
import { ensureTopology, type TopologyOptions } from './topology.js'

/**
 * A stream as the rest of Ben sees it: its name and subjects, and its state. Ben's own narrow
 * view of the client's stream info (the field names are JetStream's), so the client's types
 * never leave `streams/`.
 */
export interface StreamInfo {
  readonly config: { readonly name: string; readonly subjects: readonly string[] }
  readonly state: {
    readonly messages: number
    readonly bytes: number
    readonly first_seq: number
    /** Time of the first message kept (RFC 3339). */
    readonly first_ts: string
    readonly last_seq: number
    /** Messages per subject, when asked for with a subjects filter. */
    readonly subjects?: Readonly<Record<string, number>>
  }
}

/** A consumer as the rest of Ben sees it: Ben's own narrow view of the client's consumer info. */
export interface ConsumerInfo {
  readonly stream_name: string
  readonly name: string
  readonly config: { readonly durable_name?: string; readonly filter_subject?: string }
  readonly delivered: { readonly stream_seq: number }
  readonly ack_floor: { readonly stream_seq: number }
  readonly num_pending: number
  readonly num_ack_pending: number
  readonly num_redelivered: number
}

/** The headers of a stored message, read without its body. */
export interface StoredHeaders {
  get(name: string): string | undefined
}

/**
 * What the rest of Ben asks JetStream about its streams and consumers (info, lists, lag, a
 * consumer deleted, the last message of a subject): one door, so nothing outside `streams/`
 * opens a JetStream manager of its own.
 */
export class StreamAdmin {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {}

  /**
   * Opens the JetStream API on a connection. `checkAPI` (default true) asks the server for
   * account info first, so a server without JetStream fails here; `timeoutMs` bounds each request.
   */
  static async open(nc: NatsConnection, opts: { readonly timeoutMs?: number; readonly checkAPI?: boolean } = {}): Promise<StreamAdmin> {
    const jsm = await jetstreamManager(nc, { ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}), ...(opts.checkAPI === false ? { checkAPI: false } : {}) })
    return new StreamAdmin(nc, jsm)
  }

  /** Asks for the account's JetStream info: throws when JetStream does not answer (see `isJetStreamNotEnabled`). */
  async accountInfo(): Promise<void> {
    await this.jsm.getAccountInfo()
  }

  /** Creates or updates Ben's streams and KV buckets (`ensureTopology`). */
  ensureTopology(topo: TopologyOptions): Promise<void> {
    return ensureTopology(this.nc, this.jsm, topo)
  }

  /** A stream's config and state; `subjectsFilter` fills `state.subjects` with per-subject counts. */
  stream(name: string, subjectsFilter?: string): Promise<StreamInfo> {
    return subjectsFilter === undefined ? this.jsm.streams.info(name) : this.jsm.streams.info(name, { subjects_filter: subjectsFilter })
  }

  /** Every stream of the account. */
  async *streams(): AsyncGenerator<StreamInfo> {
    for await (const s of this.jsm.streams.list()) yield s
  }

  /** Every consumer of a stream (durable and ephemeral). */
  async *consumers(stream: string): AsyncGenerator<ConsumerInfo> {
    for await (const c of this.jsm.consumers.list(stream)) yield c
  }

  /** One consumer's info; throws when it is not there (`isConsumerNotFound`). */
  consumer(stream: string, name: string): Promise<ConsumerInfo> {
    return this.jsm.consumers.info(stream, name)
  }

  /** Deletes a consumer; a consumer already gone is not an error. */
  async deleteConsumer(stream: string, name: string): Promise<void> {
    await this.jsm.consumers.delete(stream, name).catch((err: unknown) => {
      if (!isConsumerNotFound(err)) throw err
    })
  }

  /** How far behind a consumer is (`consumerLag`). */
  lag(info: ConsumerInfo, now = Date.now()): Promise<ConsumerLag> {
    return consumerLag(this.jsm, info, now)
  }

  /**
   * The headers of the last message stored on `subject` (a direct get with the subject in the
   * request subject, so permissions can allow exactly it), or null when there is none.
   */
  async lastHeaders(stream: string, subject: string): Promise<StoredHeaders | null> {
    const m = await this.jsm.direct.getMessage(stream, { last_by_subj: subject })
    if (!m) return null
    return { get: (name) => m.header?.get(name) }
  }
}

/** The last sequence a stream holds (0 when empty). */
export async function lastSeq(nc: NatsConnection, stream: string): Promise<number> {
  const info = await (await StreamAdmin.open(nc)).stream(stream)
  return info.state.last_seq
}

/** A stored message as `storedMessages` hands it over (the body is empty when only headers were read). */
export interface StoredMessage {
  /** Its `Nats-Msg-Id`, if it has one. */
  readonly id: string | undefined
  readonly seq: number
  readonly data: Uint8Array
  /** Its `Ben-Schema-Fp`, if it has one. */
  readonly schemaFp: string | undefined
}

/**
 * Reads every message stored on `filter` after sequence `after` through an ordered consumer
 * deleted at the end: `each(message)` for each of them. `headersOnly` leaves the bodies on the
 * server (ids and sequences only).
 */
export async function storedMessages(
  nc: NatsConnection,
  stream: string,
  filter: string,
  after: number,
  each: (m: StoredMessage) => void,
  opts: { readonly headersOnly?: boolean } = {},
): Promise<void> {
  const c = await jetstream(nc).consumers.get(stream, {
    filter_subjects: filter,
    opt_start_seq: after + 1,
    deliver_policy: DeliverPolicy.StartSequence,
    headers_only: opts.headersOnly === true,
  })
  let left = (await c.info(true)).num_pending
  while (left > 0) {
    const it = await c.fetch({ max_messages: Math.min(left, opts.headersOnly ? 10_000 : 5000), expires: 5000 })
    let got = 0
    for await (const m of it) {
      got++
      each({ id: m.headers?.get(Header.MsgId) || undefined, seq: m.seq, data: m.data, schemaFp: m.headers?.get(Header.SchemaFp) || undefined })
    }
    if (got === 0) break
    left -= got
  }
  // An ordered consumer lingers for 5 minutes unless deleted.
  const info = await c.info(true)
  await (await StreamAdmin.open(nc)).deleteConsumer(stream, info.name).catch(() => undefined)
}

/** The `Nats-Msg-Id` of every message stored on `filter` after sequence `after`, headers only (`storedMessages`). */
export function storedMsgIds(nc: NatsConnection, stream: string, filter: string, after: number, each: (id: string | undefined, seq: number) => void): Promise<void> {
  return storedMessages(nc, stream, filter, after, (m) => each(m.id, m.seq), { headersOnly: true })
}

/** True for the JetStream API's "consumer not found". */
export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound
}

/** True when the server answers but JetStream is not enabled for the account. */
export function isJetStreamNotEnabled(err: unknown): boolean {
  if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) return true
  return (err as Error | null)?.name === 'JetStreamNotEnabled'
}
