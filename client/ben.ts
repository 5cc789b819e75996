import type { NatsConnection } from '@nats-io/nats-core'
// Leaf modules, not the barrels, for what every connect needs: `ben query`, `ben streams` and
// `ben publish` start as separate processes, and the barrels (infra/index.ts above all) load
// the whole of Ben (~0.7 s of CPU). What only some calls need is imported when they run.
import type { AnomalyFact, Fact, IncidentFact, Rejection } from '../schemas/index.js'
import { FactCodec } from '../schemas/codec.js'
import type { DeadLetters, Delivered, FactPublisher, FollowOptions, PublishOutcome, StartAt } from '../streams/index.js'
import { Subjects, validatePattern } from '../streams/subjects.js'
import type { IncidentListOptions, IncidentRecord, IncidentSummary, QueryChunk, QueryReply } from '../projections/index.js'
import { chunkReply, querySubject, runReadOnlyQuery } from '../projections/query.js'
import { homePaths, readEnv, type BenEnv } from '../infra/config.js'
import { isAlive, readEndpoints } from '../infra/endpoints.js'
import { InfraError } from '../infra/errors.js'
import { locateBen } from '../infra/locate.js'
import { connectNats } from '../infra/nats-connect.js'
import type { Warehouse } from '../infra/index.js'
import type { DerivedOptions, Subscription } from './subscriptions.js'
import { ClientError } from './errors.js'
import type { Narrative } from '../processors/incident/index.js'

/** What `subscribe`, `anomalies` and `incidents` run on (rxjs, JetStream consumers): loaded by `connect` unless `subscriptions: false`. */
async function loadSubscriptions() {
  const [subs, streams, schemas] = await Promise.all([import('./subscriptions.js'), import('../streams/index.js'), import('../schemas/index.js')])
  return { ...subs, followSubjects: streams.followSubjects, defaultRegistry: schemas.defaultRegistry }
}
type SubscriptionCode = Awaited<ReturnType<typeof loadSubscriptions>>

export interface ConnectOptions {
  /** NATS URL; default BEN_NATS_URL, else the running `ben up` under BEN_HOME. */
  readonly natsUrl?: string
  /** ClickHouse server URL for direct queries; default BEN_CLICKHOUSE_URL, else through `ben up`. */
  readonly clickhouseUrl?: string
  readonly home?: string
  readonly prefix?: string
  readonly env?: NodeJS.ProcessEnv
  /**
   * false: do not load the code of `subscribe`, `anomalies` and `incidents` (rxjs, JetStream
   * consumers; they then throw), for a caller that only publishes or queries and wants to start
   * fast (the \`ben\` commands). Default true.
   */
  readonly subscriptions?: boolean
}

export interface PublishSummary {
  stored: number
  duplicate: number
  failed: number
  rejected: number
  /** Refused inputs stored in `<prefix>.dlq.publish` (all of them, unless the DLQ could not be reached). */
  deadLettered: number
  /** Why each refused input was refused, by its position in the input (0-based). */
  rejections: Array<{ index: number; reason: string; message: string }>
  failures: Array<{ id: string; error: string }>
  /** Set when publishing stopped early because NATS stopped answering: why, and what to do. */
  stopped?: string
}

export interface QueryResult {
  readonly columns: Array<{ name: string; type: string }>
  readonly rows: unknown[][]
  readonly truncated: boolean
  /** Rows as objects keyed by column name. */
  objects(): Array<Record<string, unknown>>
}

export class QueryError extends Error {
  override name = 'QueryError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Ben as a library: publish facts, follow subjects, query projections. */
/** Facts looked up by id at once by `publish`. */
const LOOKUP_CHUNK = 2000

export class Ben {
  private publisher: FactPublisher | undefined
  private warehouse: Warehouse | undefined

  private constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    private readonly env: BenEnv,
    private readonly querySubjectName: string,
    private readonly clickhouseUrl: string | undefined,
    private readonly subscriptionCode: SubscriptionCode | undefined,
    readonly codec = new FactCodec(),
  ) {}

  /** The publisher, made at the first publish (its modules are loaded then, not at connect). */
  private async publisherOf(): Promise<FactPublisher> {
    if (!this.publisher) {
      const { FactPublisher } = await import('../streams/publisher.js')
      // user input: a `duplicate` counts as delivered only when the kept message is the same fact
      this.publisher ??= new FactPublisher(this.nc, this.subjects, this.codec, { verifyDuplicates: true, delayTargetMs: this.env.publishDelayMs })
    }
    return this.publisher
  }

  private subscriptionsCode(): SubscriptionCode {
    if (!this.subscriptionCode) throw new Error('this Ben was connected with subscriptions: false: connect without it to subscribe')
    return this.subscriptionCode
  }

  static async connect(opts: ConnectOptions = {}): Promise<Ben> {
    const given = { ...(opts.env ?? process.env), ...(opts.home ? { BEN_HOME: opts.home } : {}) }
    // BEN_HOME, else ./.ben when a Ben runs there, else the most recent `ben up` of this user.
    const found = opts.natsUrl ? undefined : locateBen(given)
    const env = readEnv({ ...given, ...(found ? { BEN_HOME: found.home } : {}) })
    const running = readEndpoints(homePaths(env.home).endpoints)
    const alive = running && isAlive(running.pid) ? running : undefined
    const url = opts.natsUrl ?? env.natsUrl ?? alive?.natsUrl
    if (!url) {
      const where = found?.by === 'none' ? `under ./.ben of ${process.cwd()}, nor recorded for this user` : `for BEN_HOME=${env.home}`
      throw new InfraError(
        'ben_not_running',
        `ben up is not running ${where}; start it with \`ben up\`, or name a Ben with --home DIR / BEN_HOME or --server nats://… / BEN_NATS_URL (\`ben status\` shows what is found)`,
      )
    }
    const prefix = opts.prefix ?? alive?.prefix ?? env.prefix
    const nc = await connectNats(url, env, 'ben-client').catch((err: Error) => {
      // ben up is alive but its NATS does not answer: it is restarting a nats-server that died, or the server is wedged.
      if (alive && !opts.natsUrl && !env.natsUrl)
        throw new InfraError(
          'nats_unreachable',
          `${err.message}; ben up (pid ${alive.pid}) runs but its NATS does not answer: it restarts a dead nats-server within seconds, so try again shortly; if this persists see ${homePaths(env.home).log}`,
          { cause: err },
        )
      throw err
    })
    const code =
      opts.subscriptions === false
        ? undefined
        : await loadSubscriptions().catch(async (err: unknown) => {
            await nc.close()
            throw err
          })
    return new Ben(nc, new Subjects(prefix), env, alive?.querySubject ?? querySubject(prefix), opts.clickhouseUrl ?? env.clickhouseUrl, code)
  }

  /**
   * Publishes facts: edge-shape objects (validated and converted here) or Ben facts. Refused
   * inputs are reported with their position and reason; valid ones go on.
   */
  async publish(
    inputs: Iterable<unknown> | AsyncIterable<unknown>,
    onOutcome?: (o: PublishOutcome | { index: number; rejected: Rejection }) => void,
    opts: { stallMs?: number } = {},
  ): Promise<PublishSummary> {
    const publisher = await this.publisherOf()
    const { parseEdgeFact } = await import('../schemas/edge.js')
    const summary: PublishSummary = { stored: 0, duplicate: 0, failed: 0, rejected: 0, deadLettered: 0, rejections: [], failures: [] }
    let index = 0
    const count = (o: PublishOutcome) => {
      summary[o.status]++
      if (o.status === 'failed') summary.failures.push({ id: o.id, error: o.error ?? 'unknown' })
      onOutcome?.(o)
    }
    // Bounded in time: when NATS acknowledges nothing for `stallMs` (server down or paused), the
    // facts in flight fail and the rest of the input is not read; the summary says so.
    const stallMs = opts.stallMs ?? 20_000
    const watchdog = setInterval(
      () => {
        if (summary.stopped || publisher.silentForMs < stallMs) return
        summary.stopped = `NATS acknowledged nothing for ${Math.round(stallMs / 1000)} s (server down, paused or out of disk); stopped after input ${index}. Publishing the same input again stores only what is missing (ids come from the content)`
        publisher.failPending('no PubAck: NATS stopped answering')
      },
      Math.min(1000, stallMs / 4),
    )
    watchdog.unref()
    // Facts are held in small chunks and looked up by id among what Ben already holds, so that a
    // republish later than JetStream's duplicate window is reported `duplicate` too.
    let chunk: Fact[] = []
    const sendChunk = async () => {
      const held = chunk
      chunk = []
      const known = await this.storedIds(held, stallMs)
      for (const f of held) {
        if (summary.stopped) return
        if (known.has(`${f.source}\u0000${f.id}`)) count({ id: f.id, status: 'duplicate' })
        else await publisher.send(f, undefined, count)
      }
    }
    try {
      for await (const input of inputs) {
        if (summary.stopped) break
        const i = index++
        const fact = isFact(input) ? input : parseEdgeFact(input, undefined, { arrivedAt: Date.now() })
        if ('ok' in fact && !fact.ok) {
          summary.rejected++
          summary.rejections.push({ index: i, reason: fact.error.reason, message: fact.error.message })
          // One rule for everything refused: what raw publishes get, a publish through the
          // library gets too — a dead letter with the reason and the input as it was given.
          if (await this.deadLetter(JSON.stringify(input) ?? String(input), fact.error, i + 1)) summary.deadLettered++
          onOutcome?.({ index: i, rejected: fact.error })
          continue
        }
        chunk.push('ok' in fact ? fact.value : fact)
        if (chunk.length >= LOOKUP_CHUNK) await sendChunk()
      }
      if (chunk.length && !summary.stopped) await sendChunk()
      // The send that was waiting for a window slot when we gave up went out after it.
      if (summary.stopped) publisher.failPending('no PubAck: NATS stopped answering')
      await publisher.flush()
    } finally {
      clearInterval(watchdog)
    }
    return summary
  }

  /** False once a lookup failed (no `ben up` to ask, no projection yet): JetStream's window only. */
  private canLookUp = true

  /**
   * `<source>\0<id>` of these raw facts that the `facts` table already holds (scrubbed facts
   * name their raw fact in their lineage). Empty when the warehouse cannot be asked. A lookup
   * waits 15 s at most, and no longer than the publish's `stallMs`: silence from `ben up` (its
   * connection wedged on a full disk) ends the publish as soon as silence from JetStream does.
   */
  private async storedIds(facts: readonly Fact[], stallMs: number): Promise<Set<string>> {
    if (!this.canLookUp || facts.length === 0) return new Set()
    try {
      const { storedRawIds } = await import('../projections/facts-query.js')
      return await storedRawIds((sql) => this.query(sql, { maxRows: facts.length * 4, timeoutMs: Math.min(15_000, stallMs) }), facts)
    } catch {
      this.canLookUp = false
      return new Set()
    }
  }

  /**
   * Stores refused publisher input in `<prefix>.dlq.publish` with the reason and the bytes as
   * given (`position`: the line or index, so that the same input republished is one letter).
   */
  async deadLetter(data: string | Uint8Array, rejection: Rejection, position: number): Promise<boolean> {
    if (!this.dlq) {
      const [publisher, { DeadLetters }] = await Promise.all([this.publisherOf(), import('../streams/dlq.js')])
      this.dlq ??= new DeadLetters(publisher, this.subjects, this.codec, 'publish')
    }
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    return this.dlq.send({ subject: `${this.subjects.prefix}.publish`, data: bytes, seq: position }, rejection)
  }

  private dlq: DeadLetters | undefined

  /** Follows subjects matching a pattern (e.g. `ben.fact.metric.>`), decoded. */
  subscribe(pattern: string, start: StartAt = { deliver: 'new' }, options: FollowOptions = {}): Subscription<Delivered> {
    const bad = validatePattern(pattern)
    if (bad) throw new InfraError('bad_config', bad)
    const { asSubscription, followSubjects, defaultRegistry } = this.subscriptionsCode()
    return asSubscription(followSubjects(this.nc, defaultRegistry(), pattern, start, options))
  }

  /**
   * Decoded anomalies, filtered by source (id or `*` glob) and minimum severity. With `name`,
   * a durable consumer: a restart with the same name resumes where it left off (client/subscriptions.ts).
   */
  anomalies(opts: DerivedOptions = {}): Subscription<AnomalyFact> {
    return this.subscriptionsCode().subscribeAnomalies(this, opts)
  }

  /** Decoded incident transitions (opened, updated, resolved); same options as `anomalies`. */
  incidents(opts: DerivedOptions = {}): Subscription<IncidentFact> {
    return this.subscriptionsCode().subscribeIncidents(this, opts)
  }

  /** The latest state of each incident, most recently active first (from the `incidents` table). */
  async listIncidents(opts: IncidentListOptions = {}): Promise<IncidentSummary[]> {
    const { listIncidents, isReportError } = await import('../projections/index.js')
    return listIncidents((sql) => this.query(sql, { maxRows: 100_000 }), opts).catch((err: unknown) => asClientError(err, isReportError))
  }

  /** One incident (by id or a unique id prefix), the facts it cites, and its narrative. */
  async incidentReport(id: string): Promise<IncidentReport> {
    const [{ incidentRecord, isReportError }, { narrate }] = await Promise.all([import('../projections/index.js'), import('../processors/incident/index.js')])
    return incidentRecord((sql) => this.query(sql, { maxRows: 100_000 }), this.codec, id).then(
      (r) => ({ ...r, narrative: narrate([...r.facts, ...r.transitions], r.incident) }),
      (err: unknown) => asClientError(err, isReportError),
    )
  }

  /** Runs a read-only query: directly against a ClickHouse server, or through `ben up`. */
  async query(sql: string, opts: { maxRows?: number; timeoutMs?: number } = {}): Promise<QueryResult> {
    const rows: unknown[][] = []
    const r = await this.queryEach(sql, (chunk) => void rows.push(...chunk), { maxRows: opts.maxRows ?? 10_000, timeoutMs: opts.timeoutMs })
    const columns = r.columns
    return { columns, rows, truncated: r.truncated, objects: () => rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))) }
  }

  /**
   * Runs a read-only query and hands its rows over in chunks as they arrive, without holding
   * them all: `onRows` is called with the columns known. `truncated` says the result was cut at
   * `maxRows` (default 1,000,000, what `ben up` holds at most for one query).
   */
  async queryEach(
    sql: string,
    onRows: (rows: unknown[][], columns: Array<{ name: string; type: string }>) => void,
    opts: { maxRows?: number; timeoutMs?: number } = {},
  ): Promise<{ columns: Array<{ name: string; type: string }>; rows: number; truncated: boolean }> {
    let chunks: AsyncIterable<QueryChunk> | Iterable<QueryChunk>
    if (this.clickhouseUrl) {
      const { openClickHouse } = await import('../infra/clickhouse.js')
      this.warehouse ??= await openClickHouse({ url: this.clickhouseUrl, user: this.env.clickhouseUser, password: this.env.clickhousePassword, database: this.env.clickhouseDb })
      const reply: QueryReply = await runReadOnlyQuery(this.warehouse.client, { sql, maxRows: opts.maxRows, stream: true })
      chunks = chunkReply(reply)
    } else {
      chunks = this.requestChunks({ sql, maxRows: opts.maxRows, stream: true }, opts.timeoutMs ?? 30_000)
    }
    let columns: Array<{ name: string; type: string }> = []
    let rows = 0
    for await (const c of chunks) {
      if (!c.ok) throw new QueryError(c.code ?? 'query_failed', c.error)
      if (c.columns) columns = c.columns
      rows += c.rows.length
      if (c.rows.length || c.columns) onRows(c.rows, columns)
      if (c.done) return { columns, rows, truncated: Boolean(c.truncated) }
    }
    throw new QueryError(
      'timeout',
      `the query's answer stopped after ${rows} rows without its end: \`ben up\` may have stopped, or the query took longer than ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s`,
    )
  }

  /** A streamed query through `ben up`: chunks until the empty end-of-answer message. */
  private async *requestChunks(req: { sql: string; maxRows?: number; stream: true }, timeoutMs: number): AsyncGenerator<QueryChunk> {
    let replies: AsyncIterable<{ data: Uint8Array }>
    try {
      replies = await this.nc.requestMany(this.querySubjectName, JSON.stringify(req), { strategy: 'sentinel', maxWait: timeoutMs })
    } catch (err) {
      throw this.requestError(err as Error)
    }
    const dec = new TextDecoder()
    try {
      for await (const m of replies) {
        if (m.data.length === 0) return
        const text = dec.decode(m.data)
        try {
          yield JSON.parse(text) as QueryChunk
        } catch (err) {
          throw new QueryError('bad_reply', `the query service answered something that is not JSON (${(err as Error).message})`)
        }
      }
    } catch (err) {
      if (err instanceof QueryError) throw err
      throw this.requestError(err as Error)
    }
  }

  private requestError(e: Error): Error {
    if (e.name === 'NoRespondersError' || /no responders/i.test(e.message) || (e.cause as Error | undefined)?.name === 'NoRespondersError') {
      return new InfraError('ben_not_running', `no query service answers on ${this.querySubjectName}: is \`ben up\` running?`)
    }
    return new QueryError('timeout', `query did not answer: ${e.message}`)
  }

  async close(): Promise<void> {
    await this.publisher?.close()
    await this.warehouse?.close()
    // A drain needs the server: bounded, so that closing during an outage never hangs.
    let t: NodeJS.Timeout | undefined
    const timedOut = new Promise<void>((_, reject) => (t = setTimeout(() => reject(new Error('drain timed out')), 5000)))
    await Promise.race([this.nc.drain(), timedOut]).catch(() => this.nc.close())
    clearTimeout(t)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function isFact(v: unknown): v is Fact {
  return typeof v === 'object' && v !== null && 'kind' in v && 'payload' in v && 'id' in v && 'producer' in v
}

export const connect = (opts?: ConnectOptions): Promise<Ben> => Ben.connect(opts)

/** The library's callers branch on `isClientError`: the incident reads' refusals keep their code under that name. */
function asClientError(err: unknown, isReportError: typeof import('../projections/index.js').isReportError): never {
  throw isReportError(err) ? new ClientError(err.code, err.message, { cause: err }) : err
}

/** An incident with its narrative: what was seen, decided, signed and answered. */
export interface IncidentReport extends IncidentRecord {
  readonly narrative: Narrative
}
