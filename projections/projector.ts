import type { ClickHouseClient } from '@clickhouse/client'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Subscription } from 'rxjs'
import type { FactCodec } from '../schemas/index.js'
import {
  ackUpTo,
  consumeFacts,
  metrics,
  repositionDurable,
  StreamAdmin,
  streamName,
  type DeadLetters,
  type Envelope,
  type Logger,
  type Subjects,
  type TopologyOptions,
} from '../streams/index.js'
import type { Projection } from './projection.js'
import { sqlString } from './sql-string.js'

// Its own module, so that the queries (facts-query.ts: `ben publish`) load without the projector.
export { sqlString }

export interface ProjectorOptions {
  /** Rows per insert at most. Default 10,000. */
  readonly batchSize?: number
  /** A non-empty batch is written this long after its first row, or, if the batch before it is still being written then, as soon as that write ends. Default 250 ms. */
  readonly flushMs?: number
  /** Redelivery delay of un-acked messages (after a crash). Default 10 s. */
  readonly ackWaitMs?: number
  readonly log?: Logger
}

export interface ProjectorStats {
  received: number
  inserted: number
  skippedExisting: number
  batches: number
  failures: number
  /** Times the consumer was held with three batches in hand (flow control). */
  held: number
  /** Times a batch went on filling past `flushMs` because the batch before it was still being written. */
  deferred: number
}

/**
 * Follows a stream into a ClickHouse table. Rows are batched by size and time; each batch's
 * messages are acked only after the insert returns (ack after commit). Position is the durable
 * consumer's ack floor: a restart resumes where it stopped.
 *
 * Idempotence by fact id, not by stream position: every id of a batch is looked up in the table
 * (narrowed to the batch's event-time range, which the table's sort key and id bloom filter
 * make cheap) and the ones found are skipped. A fact stored twice in the stream — republished,
 * or re-derived after a restart, later than JetStream's duplicate window — is a new message
 * with a higher sequence, and still gets one row. ReplacingMergeTree (ORDER BY includes id)
 * stays as a second line.
 */
export class Projector {
  readonly stats: ProjectorStats = { received: 0, inserted: 0, skippedExisting: 0, batches: 0, failures: 0, held: 0, deferred: 0 }
  private buffer: Envelope[] = []
  private timer: NodeJS.Timeout | undefined
  private sub: Subscription | undefined
  private chain: Promise<void> = Promise.resolve()
  private readonly batchSize: number
  private readonly flushMs: number
  private streamName = ''
  private codec: FactCodec | undefined

  constructor(
    private readonly projection: Projection,
    private readonly client: ClickHouseClient,
    private readonly opts: ProjectorOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 10_000
    this.flushMs = opts.flushMs ?? 250
  }

  /**
   * Starts following the stream. The durable is re-positioned at its ack floor + 1 first, so
   * the messages come strictly in order: with ack-all, acking a batch must never cover an
   * earlier message still waiting for redelivery. Insert failures restart it the same way.
   */
  async start(nc: NatsConnection, codec: FactCodec, subjects: Subjects, topo: Pick<TopologyOptions, 'streamPrefix'>, dlq: DeadLetters): Promise<void> {
    const p = this.projection
    this.codec = codec
    this.streamName = streamName(topo, p.stream)
    this.follow = async (from: number | 'ack-floor' = 'ack-floor') => {
      const durable = `proj-${p.name}`
      const consumer = {
        stream: this.streamName,
        durable,
        filterSubject: p.filterSubject?.(subjects),
        maxAckPending: this.batchSize * 4,
        // Batches are written in order: one ack per batch acknowledges all of it.
        ackAll: true,
        // A batch is written well within this.
        ackWaitMs: this.opts.ackWaitMs ?? 30_000,
      }
      this.durable = { nc, stream: this.streamName, name: durable }
      await repositionDurable(nc, consumer, from)
      this.sub = consumeFacts(nc, codec, subjects, {
        ...consumer,
        stage: `project-${p.name}`,
        batch: Math.min(this.batchSize, 5000),
        ready: () => this.room(),
        dlq,
        log: this.opts.log,
      }).subscribe({
        next: (env) => this.push(env),
        // The consumer ended: `failed` says so, and the service's supervisor starts a fresh projector.
        error: (err) => this.failWith(err as Error),
        complete: () => this.failWith(new Error('the consumer ended')),
      })
    }
    await this.follow()
  }

  private follow: ((from?: number | 'ack-floor') => Promise<void>) | undefined
  private durable: { nc: NatsConnection; stream: string; name: string } | undefined
  private restarting = false

  get table(): string {
    return this.projection.table
  }

  get name(): string {
    return this.projection.name
  }

  /**
   * Stops following and drops what is buffered (nothing of it was acked): the first half of a
   * rebuild. The caller truncates the table, then calls `replay()`.
   */
  async pause(): Promise<void> {
    this.generation++
    this.sub?.unsubscribe()
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.due = false
    for (const e of this.buffer) e.release()
    this.done(this.buffer.length)
    this.buffer = []
    await this.chain.catch(() => undefined)
    this.inHand = 0
    this.makeRoom(true)
  }

  /** Follows again from the first message of the stream (after the table was emptied). */
  async replay(): Promise<void> {
    await this.follow?.(0)
  }

  /** Messages of the stream not yet written and acknowledged by this projector. */
  async behind(): Promise<number> {
    if (!this.durable) return 0
    const i = await (await StreamAdmin.open(this.durable.nc)).consumer(this.durable.stream, this.durable.name)
    return i.num_pending + i.num_ack_pending + this.buffer.length
  }

  /** After a failed insert: drop what is buffered (nothing of it was acked) and follow again from the ack floor. */
  private restart(): void {
    if (this.restarting || this.stopped) return
    this.restarting = true
    this.generation++
    this.sub?.unsubscribe()
    // The old consumer, if held, sees that it is stopped and ends.
    this.makeRoom(true)
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.due = false
    this.done(this.buffer.length)
    this.buffer = []
    setTimeout(() => {
      void this.chain
        .then(() => this.follow?.())
        .catch((err) => this.failWith(err as Error))
        .finally(() => {
          this.restarting = false
        })
    }, this.backoffMs)
    // Insert failures that persist (a full disk) back off up to 30 s instead of looping.
    this.backoffMs = Math.min(30_000, this.backoffMs * 2)
  }

  private backoffMs = 1000
  private failure: Error | undefined
  /** The last insert error logged: a failure that repeats is logged once, not per attempt. */
  private lastInsertError: string | undefined

  private failWith(err: Error): void {
    if (this.stopped || this.failure) return
    this.failure = err
    this.opts.log?.error({ projection: this.projection.name, err: err.message }, 'projector stopped following its stream')
  }

  /** Set when the projector no longer follows its stream (its supervisor replaces it). */
  get failed(): Error | undefined {
    return this.failure
  }

  private stopped = false
  /** Bumped by each restart: batches formed before it are dropped unacked. */
  private generation = 0

  /**
   * Flow control (as a stage runner's routine lanes have): with three batches in hand (received,
   * not yet written and acknowledged: one being written, two waiting), the consumer decodes nothing
   * more and sends no further pull until a write brings it under two (the next batch still fills
   * while one is written). A projector that lags does not hold max-ack-pending (four batches) of
   * decoded facts, nor decode ahead of what it can write while the stages of the same process wait
   * for the event loop (issue 8).
   */
  private room(): Promise<void> | undefined {
    if (this.inHand < 3 * this.batchSize || this.stopped) return undefined
    this.stats.held++
    return new Promise((r) => this.roomWaiters.push(r))
  }

  /** Lets the consumer go on once under two batches in hand (`all`: whatever is in hand, stopping or restarting). */
  private makeRoom(all = false): void {
    if (this.roomWaiters.length && (all || this.inHand < 2 * this.batchSize)) for (const r of this.roomWaiters.splice(0)) r()
  }

  /** Envelopes received and not yet written and settled. */
  private inHand = 0
  private readonly roomWaiters: Array<() => void> = []

  /** `n` envelopes settled (written and acked, or dropped unacked). */
  private done(n: number): void {
    this.inHand = Math.max(0, this.inHand - n)
    this.makeRoom()
  }

  private push(env: Envelope): void {
    this.stats.received++
    this.inHand++
    // Not ours (or dead-lettered) still goes in the batch: its ack-all covers it. It is
    // scheduled like any other message, so a quiet stream does not leave it un-acked.
    this.buffer.push(env)
    // A full batch is cut at once: batches are at most batchSize, whatever the pace of delivery.
    // (Cut on a zero timer, a batch went on growing until the consumer yielded the event loop,
    // and its boundaries, so the size of the last partial batch, depended on timing.)
    if (this.buffer.length >= this.batchSize) this.cut()
    else if (!this.timer && !this.due) this.timer = setTimeout(() => this.timeUp(), this.flushMs)
  }

  /** Batches queued for writing or being written. */
  private writing = 0
  /** `flushMs` passed while a batch was being written: what is buffered is cut when that write ends. */
  private due = false

  /**
   * `flushMs` after a batch's first row. If a batch is still being written, this one goes on
   * filling until that write ends (or it is full), then is written at once: a projector behind its
   * stream writes fewer, larger batches (an insert costs about 17 ms of CPU whatever its size: a row
   * 24 µs in a batch of 5,000 against 41–46 in one of 750), where cutting every
   * `flushMs` queued batches of the same small size behind a slow write. A projector that keeps up
   * writes each batch `flushMs` after its first row, as before.
   */
  private timeUp(): void {
    this.timer = undefined
    if (this.writing === 0) return this.cut()
    this.due = true
    this.stats.deferred++
  }

  /** Queues what is buffered for writing, after the writes already queued. */
  private cut(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.due = false
    const batch = this.buffer
    this.buffer = []
    if (batch.length) {
      const gen = this.generation
      this.writing++
      this.chain = this.chain
        .then(() => this.write(batch, gen))
        .finally(() => {
          if (--this.writing === 0 && this.due) this.cut()
        })
    }
  }

  /** Writes everything buffered and waits for in-progress inserts. */
  async flush(): Promise<void> {
    this.cut()
    await this.chain
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.sub?.unsubscribe()
    this.makeRoom(true)
    await this.flush()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  private async write(batch: Envelope[], gen: number): Promise<void> {
    const p = this.projection
    if (gen !== this.generation) {
      // Formed before a restart: it will be delivered again from the ack floor.
      for (const e of batch) e.release()
      this.done(batch.length)
      return
    }
    try {
      const unique = new Map<string, Envelope>()
      const suspects: string[] = []
      let from = Infinity
      let to = -Infinity
      for (const e of batch) {
        if (e.deadLettered || e.skipped) continue
        if (unique.has(e.fact.id)) continue
        unique.set(e.fact.id, e)
        if (p.upsert || !p.handles(e.fact)) continue
        suspects.push(e.fact.id)
        const ts = e.fact.ts
        if (ts < from) from = ts
        if (ts > to) to = ts
      }
      const existing = suspects.length ? await this.existingIds(suspects, from, to) : EMPTY_SET
      const rows: unknown[][] = []
      let n = 0
      for (const [id, e] of unique) {
        // A large batch's rows are built in slices: the other stages of the process are not held for all of it.
        if (++n % ROWS_PER_SLICE === 0) await new Promise<void>((r) => setImmediate(r))
        if (existing.has(id) || !p.handles(e.fact)) continue
        const fp = e.raw.fingerprint
        rows.push(p.toRow(e.fact, { stream: this.streamName, seq: e.seq, codec: this.codec!, avro: fp ? { data: e.raw.data, fingerprint: fp } : undefined }))
      }
      if (rows.length) await this.client.insert({ table: p.table, values: rows, format: 'JSONCompactEachRow', columns: p.columns as [string, ...string[]] })
      this.stats.inserted += rows.length
      this.stats.skippedExisting += unique.size - rows.length
      this.stats.batches++
      metrics.factsOut.inc({ stage: `project-${p.name}` }, rows.length)
      ackUpTo(batch, true)
      this.done(batch.length)
      if (this.lastInsertError !== undefined) this.opts.log?.warn({ projection: p.name, failures: this.stats.failures }, 'inserts work again')
      this.lastInsertError = undefined
      this.backoffMs = 1000
    } catch (err) {
      this.stats.failures++
      const msg = (err as Error).message
      if (msg !== this.lastInsertError)
        this.opts.log?.error({ projection: p.name, rows: batch.length, err: msg }, 'insert failed; following again from the last acknowledged batch (with back-off)')
      this.lastInsertError = msg
      for (const e of batch) e.release()
      this.done(batch.length)
      this.restart()
    }
  }

  /**
   * Ids already in the table among these facts with event times in [from, to] (ms), asked in
   * chunks that keep each query well under max_query_size. The ids go as one string literal, a
   * JSON array that ClickHouse turns into the set (`JSONExtract`), not as a list of literals, each
   * of which its parser makes a node of: in the embedded engine, the lookup of a batch of 1,500
   * ids took 13.5 ms of CPU instead of 21.5 (`SELECT 1` alone: 4.1). The set is the same, and so
   * is its use of the id bloom filter index (EXPLAIN indexes = 1).
   */
  private async existingIds(ids: string[], from: number, to: number): Promise<Set<string>> {
    const found = new Set<string>()
    const range =
      Number.isFinite(from) && Number.isFinite(to)
        ? ` AND ts >= fromUnixTimestamp64Milli(toInt64(${Math.floor(from)})) AND ts <= fromUnixTimestamp64Milli(toInt64(${Math.ceil(to)}))`
        : ''
    for (let i = 0; i < ids.length; ) {
      // JSON's escapes are escaped again in the SQL literal: at most 2 bytes of query per byte of JSON.
      let json = JSON.stringify(ids[i++])
      while (i < ids.length && json.length < 100_000) json += ',' + JSON.stringify(ids[i++])
      const rs = await this.client.query({
        query: `SELECT id FROM ${this.projection.table} WHERE id IN JSONExtract(${sqlString(`[${json}]`)}, 'Array(String)')${range}`,
        format: 'JSONCompactEachRow',
      })
      for (const [id] of await rs.json<[string]>()) found.add(id)
    }
    return found
  }
}

/** Rows of a batch built between two turns of the event loop. */
export const ROWS_PER_SLICE = 1000

const EMPTY_SET: ReadonlySet<string> = new Set()
