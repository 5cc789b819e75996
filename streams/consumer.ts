import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream'
import { nanos, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core'
import { Observable } from 'rxjs'
import { Header, type Fact, type FactCodec, type Rejection, type Result } from '../schemas/index.js'
import { isConsumerNotFound, StreamAdmin } from './admin.js'
import { decodeMessage } from './decode.js'
import { sharedDecodes, type SharedDecodes } from './decode-cache.js'
import type { DeadLetters, RejectedInput } from './dlq.js'
import { consumerEvents, factsIn, inFlight, tally } from './metrics.js'
import { primeInfo, wireHeaders } from './wire.js'
import { subjectMatches, type Subjects } from './subjects.js'

/**
 * Idle heartbeat asked of the server on each pull. A pull that the server dropped (the stream's
 * leader changed in a cluster, the server restarted) is noticed by nats.js after two missed
 * heartbeats and pulled again: ~10 s with this, not the ~30 s of nats.js's default (half the
 * pull's 30 s expiry), which is how long the facts projector sat idle after the DERIVED leader was
 * killed. The cost is one small message per idle consumer every 5 s.
 */
export const PULL_HEARTBEAT_MS = 5_000

/** Consumer notifications worth a warning; the rest (heartbeats, expired pulls) are routine. */
const NOTEWORTHY = new Set(['heartbeats_missed', 'consumer_not_found', 'stream_not_found', 'consumer_deleted', 'no_responders', 'exceeded_limits'])

/**
 * During an outage the same notice repeats every few seconds on every consumer (eight in `ben
 * up`): each kind is logged at most once a minute per thread (module state: `ben up`'s main
 * thread and each stage thread), naming the consumers that reported it since the last line
 * (ben_consumer_events_total counts them all). The log's own collapsing of repeats is per
 * speaker (a stage's line must not hide another's), so it cannot fold one cause seen by eight.
 */
const statusNotes = new Map<string, { at: number; stages: Set<string> }>()

/** What to add to the warning when this status is to be logged now; undefined to keep it quiet. */
function noteStatus(type: string, stage: string): { alsoReportedBy: string[] } | undefined {
  const now = Date.now()
  const note = statusNotes.get(type) ?? { at: 0, stages: new Set<string>() }
  statusNotes.set(type, note)
  if (now - note.at < 60_000) {
    note.stages.add(stage)
    return undefined
  }
  const alsoReportedBy = [...note.stages].filter((s) => s !== stage)
  note.at = now
  note.stages.clear()
  return { alsoReportedBy }
}

/** What a stage sees of a message: the fact and how to settle it. Raw `JsMsg` stays here. */
export interface Envelope<F extends Fact = Fact> {
  readonly fact: F
  readonly subject: string
  /** Stream sequence. */
  readonly seq: number
  readonly redelivered: boolean
  /** When the stream stored it (ms since the epoch; read lazily). */
  readonly storedAt: number
  /**
   * True for a message that did not decode and is already stored in the DLQ (ack-all consumers
   * only): it carries no fact (`fact` is a placeholder), it only keeps its place in the order so
   * that the subscriber's next ack covers it. Without it, a bad message at the tail of a lane
   * would never be acked and would be redelivered (and dead-lettered) forever.
   */
  readonly deadLettered: boolean
  /** True for a message matching the consumer's `exclude` pattern: not decoded, no fact (placeholder). */
  readonly skipped: boolean
  /**
   * Envelopes of a `lazy` consumer only: the reason the message does not decode (undefined when it
   * does). Reading this or `fact` decodes it (once). A refused envelope carries a placeholder `fact`;
   * its subscriber dead-letters it before any ack covers it.
   */
  readonly refused?: Rejection
  /** Acknowledge: only after everything derived from it is durable. */
  ack(): void
  /** Ask for redelivery (after `delayMs`). */
  nak(delayMs?: number): void
  /** Extend the ack deadline while work is in progress. */
  working(): void
  /**
   * Marks the message settled without telling the server: for consumers with `ackAll`, where
   * acking a later message of the same consumer acknowledges this one too.
   */
  release(): void
  /** The message as it arrived: for the DLQ, and for projections that keep the original bytes. */
  readonly raw: RawMessage
}

export interface RawMessage {
  readonly stream: string
  readonly subject: string
  readonly seq: number
  readonly data: Uint8Array
  readonly headers?: MsgHdrs
  /** The Avro writer fingerprint when the message carried one (not for edge JSON). */
  readonly fingerprint?: string
}

export interface Logger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
}

export interface FactConsumerOptions {
  readonly stream: string
  /** Durable consumer name: position survives restarts of this process. */
  readonly durable: string
  readonly filterSubject?: string
  /** Bound on messages delivered but not acknowledged (server-enforced). Default 10,000. */
  readonly maxAckPending?: number
  /** Redelivery after this long without an ack. Default 30 s. */
  readonly ackWaitMs?: number
  /** Pull batch size. Default 1,000. */
  readonly batch?: number
  /** Where a new durable starts. Default `all`. */
  readonly deliver?: 'all' | 'new'
  /**
   * AckPolicy.All: one ack acknowledges every earlier message of the consumer. For consumers
   * that settle in order (stage runners, projectors): a batch costs one ack, not one per fact.
   */
  readonly ackAll?: boolean
  /**
   * Messages on subjects matching this pattern are not decoded (another consumer handles
   * them): they come through as `skipped` placeholders so that acks stay in order.
   */
  readonly exclude?: string
  /** Messages for which this is true are passed over like `exclude`d ones (another partition's). */
  readonly skip?: (subject: string) => boolean
  /**
   * Longest run (ms) of deliveries decoded without letting the event loop go round (default 4;
   * 0: never yield, for the alert lane). A burst the server wrote at once (a checkpoint's ack
   * frees thousands of slots) is decoded in slices, so other sockets — the alert lane's — are
   * read in between instead of after all of it. A `lazy` consumer decodes nothing when it
   * receives, and takes in what was delivered in runs of up to LAZY_SLICE_MS (see there).
   */
  readonly sliceMs?: number
  /**
   * Flow control: called before each delivery is decoded; a promise holds the consumer until it
   * resolves — nothing more is decoded, and no further pull goes out (nats.js issues the next pull
   * as its iterator is read), so a subscriber that is behind holds at most one pull batch of raw
   * bytes instead of max-ack-pending decoded facts (issue 8: under a flood the process was parsing
   * and collecting megabytes of deliveries it could not apply yet, and the alert lane waited).
   */
  readonly ready?: () => Promise<void> | undefined
  /**
   * Deliveries are handed over undecoded (ack-all consumers only): the fact is decoded when the
   * subscriber reads it (`fact` or `refused`), and one that does not decode is the subscriber's to
   * dead-letter. For a subscriber that may apply its inputs out of delivery order (a stage runner's
   * fair lane): a quiet source's fact that arrives behind another source's burst is not decoded
   * after all of the burst (issue 8), only after what is applied before it.
   */
  readonly lazy?: boolean
  /** Stage name for metrics and the DLQ. */
  readonly stage: string
  readonly dlq: DeadLetters
  readonly log?: Logger
}

/**
 * A durable pull consumer as an Observable of envelopes. Input that does not decode goes to
 * the DLQ (then is acked; if the DLQ publish fails it is nak'ed, so nothing is lost) and never
 * reaches the subscriber. The server bounds un-acked messages in flight (`maxAckPending`), so
 * a slow subscriber slows delivery instead of growing memory. The nats.js consumer resumes by
 * itself after a reconnect; the durable resumes after a restart from its ack floor.
 * Unsubscribing stops the pull.
 */
export function consumeFacts(nc: NatsConnection, codec: FactCodec, subjects: Subjects, opts: FactConsumerOptions): Observable<Envelope> {
  return new Observable<Envelope>((subscriber) => {
    let stopped = false
    let stop: (() => void) | undefined
    let closeDecodes: (() => void) | undefined
    const { stage, log } = opts
    ;(async () => {
      await ensureDurable(nc, opts)
      const js = jetstream(nc)
      const consumer = await js.consumers.get(opts.stream, opts.durable)
      // `bind`: after a reconnect or missed heartbeats, pull again at once. Unbound, nats.js first
      // asks for the consumer's info, and when that fails (the server wedged on a full disk, or gone)
      // it waits a jittered 15–45 s (its back-off is the pull's 30 s expiry) before asking again; a
      // reconnect meanwhile does not cut that short, so a stage sat idle that long after a new
      // nats-server was up (issue 15). A consumer deleted behind Ben's back, which that info would
      // report, is seen by the supervisors' own consumer checks.
      const messages = await consumer.consume({ max_messages: opts.batch ?? 1000, idle_heartbeat: PULL_HEARTBEAT_MS, bind: true })
      stop = () => messages.stop()
      if (stopped) messages.stop()
      void (async () => {
        for await (const s of messages.status()) {
          consumerEvents.inc({ stage, type: s.type })
          const seen = NOTEWORTHY.has(s.type) ? noteStatus(s.type, stage) : undefined
          if (seen) log?.warn({ stage, status: s.type, ...seen }, 'consumer status')
          else log?.debug({ stage, status: s.type }, 'consumer status')
        }
      })().catch(() => undefined)
      // Consumers of this stream in this process whose filters take the same message decode it once between them.
      const decodes = sharedDecodes(nc, opts.stream, opts.filterSubject)
      closeDecodes = () => decodes.close()
      if (stopped) closeDecodes()
      const received = tally(factsIn, { stage })
      // Raw facts are held to their arrival (JetStream store) time: only FACTS carries them.
      const rawStream = opts.stream.endsWith('FACTS')
      const gauge = tally(inFlight, { stage })
      // Ack-all consumers settle in order, so a delivery that was lost in transit must not be
      // passed over: the next ack would cover it. A durable numbers its deliveries 1, 2, 3…;
      // when the numbering jumps (messages delivered into a connection that died with the
      // server) or goes back (the restarted server's consumer state is older than what was
      // received), the order is broken: end the stream, and the subscriber follows again from
      // its checkpoint or ack floor (re-positioned, so delivery is in order again).
      let lastDelivery = -1
      const decoder = new MessageDecoder(decodes, (d) => decodeMessage(codec, subjects, d.subject, wireHeaders(d), d.data, rawStream ? d.info.timestampNanos / 1e6 : undefined))
      const lazy = opts.lazy && opts.ackAll ? decoder : undefined
      const sliceMs = opts.sliceMs ?? (lazy ? LAZY_SLICE_MS : DECODE_SLICE_MS)
      let sliceStart = performance.now()
      let n = 0
      for await (const m of messages) {
        if (stopped) break
        const held = opts.ready?.()
        if (held) {
          await held
          if (stopped) break
          sliceStart = performance.now()
        }
        primeInfo(m)
        if (sliceMs > 0 && (++n & 15) === 0 && performance.now() - sliceStart >= sliceMs) {
          await new Promise<void>((r) => setImmediate(r))
          sliceStart = performance.now()
          if (stopped) break
        }
        if (opts.ackAll) {
          const d = m.info.deliverySequence
          if (lastDelivery >= 0 && d !== lastDelivery + 1) {
            consumerEvents.inc({ stage, type: 'delivery_gap' })
            subscriber.error(
              new DeliveryGapError(
                `${opts.stream} consumer ${opts.durable}: delivery ${d} came after ${lastDelivery} (deliveries were lost or repeated in a reconnect); following again from the last settled position`,
              ),
            )
            return
          }
          lastDelivery = d
        }
        if ((opts.exclude && subjectMatches(opts.exclude, m.subject)) || opts.skip?.(m.subject)) {
          subscriber.next(new EnvelopeImpl(DEAD_LETTERED, m, gauge, opts.stream, false, true))
          continue
        }
        received.inc()
        if (lazy) {
          subscriber.next(new EnvelopeImpl(LAZY, m, gauge, opts.stream, false, false, lazy))
          continue
        }
        const r = decoder.decode(m)
        if (!r.ok) {
          log?.warn({ stage, subject: m.subject, seq: m.seq, reason: r.error.reason }, r.error.message)
          const input = { subject: m.subject, headers: m.headers, data: m.data, stream: opts.stream, seq: m.seq }
          if (!opts.ackAll) {
            if (await opts.dlq.send(input, r.error)) m.ack()
            else m.nak(1000)
            continue
          }
          // Ack-all: the message may be acked only by the subscriber's ack, in order, and only
          // once its dead letter is stored. Retry the DLQ; if it stays unreachable, end the
          // stream (the subscriber restarts from its position and the message comes again).
          if (!(await storeDeadLetter(opts.dlq, input, r.error, () => stopped))) {
            if (!stopped) subscriber.error(new Error(`could not store the dead letter of ${opts.stream} seq ${m.seq} (${r.error.reason})`))
            return
          }
          if (stopped) break
          subscriber.next(new EnvelopeImpl(DEAD_LETTERED, m, gauge, opts.stream, true, false))
          continue
        }
        subscriber.next(new EnvelopeImpl(r.value, m, gauge, opts.stream, false, false))
      }
      subscriber.complete()
    })().catch((err) => {
      if (!stopped) subscriber.error(err)
    })
    return () => {
      stopped = true
      stop?.()
      closeDecodes?.()
    }
  })
}

/** See FactConsumerOptions.sliceMs. */
const DECODE_SLICE_MS = 4

/**
 * A lazy consumer's run: a delivery costs it a few µs (no decode), and its subscriber's flow
 * control (`ready`) holds it after about a thousand. Taking in at once what the server delivered
 * is what lets a fair lane serve a quiet source's fact early (issue 8). With the stage runner's
 * 1 ms slices, a probe in the middle of another source's 1,000-fact burst reached the runner 14–28 ms
 * after it was stored in runs of 50 ms, 21–28 ms in runs of 4 ms (medians of 9 bursts, 4 runs each).
 */
const LAZY_SLICE_MS = 50

/**
 * An ack-all consumer's deliveries were not consecutive (lost in transit or repeated after a
 * server restart): the stream ends with this, and its subscriber follows again from its position.
 */
export class DeliveryGapError extends Error {
  override readonly name = 'DeliveryGapError'
  readonly code = 'delivery_gap'
}

export const isDeliveryGap = (err: unknown): err is DeliveryGapError => err instanceof Error && (err as { code?: unknown }).code === 'delivery_gap'

/** The `fact` of a dead-lettered envelope: nothing handles it (no stage, no projection). */
const DEAD_LETTERED = Object.freeze({ id: '', kind: 'dead-lettered', lane: '', source: '', ts: 0, lineage: [], producer: '', config: {}, payload: {} }) as unknown as Fact

/** Stores a dead letter, retrying with back-off (about 30 s in all); false if it never could. */
async function storeDeadLetter(dlq: DeadLetters, input: RejectedInput, rejection: Rejection, stopped: () => boolean): Promise<boolean> {
  let delay = 100
  for (let attempt = 0; attempt < 10 && !stopped(); attempt++) {
    if (await dlq.send(input, rejection)) return true
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 5000)
  }
  return false
}

/** The `fact` of a lazy envelope not decoded yet. */
const LAZY = Object.freeze({ ...DEAD_LETTERED, kind: 'not-decoded' }) as unknown as Fact

/** How a consumer's deliveries decode, through the shared decode cache (one per consumer; a lazy consumer's envelopes call it when read). */
class MessageDecoder {
  constructor(
    private readonly decodes: SharedDecodes,
    private readonly run: (m: JsMsg) => Result<Fact>,
  ) {}
  decode(m: JsMsg): Result<Fact> {
    return this.decodes.decode(m.seq, m.subject, m.data, () => this.run(m))
  }
}

/** One class, no closures per message: this is on every stage's hot path. */
class EnvelopeImpl implements Envelope {
  private settled = false
  private rawCache: RawMessage | undefined
  private refusal: Rejection | undefined

  constructor(
    private value: Fact,
    private readonly m: JsMsg,
    private readonly gauge: { inc(): void; dec(): void },
    private readonly stream: string,
    readonly deadLettered: boolean,
    readonly skipped: boolean,
    private lazy?: MessageDecoder,
  ) {
    gauge.inc()
  }

  get fact(): Fact {
    if (this.lazy) this.decode()
    return this.value
  }

  get refused(): Rejection | undefined {
    if (this.lazy) this.decode()
    return this.refusal
  }

  private decode(): void {
    const r = this.lazy!.decode(this.m)
    this.lazy = undefined
    if (r.ok) this.value = r.value
    else {
      this.value = DEAD_LETTERED
      this.refusal = r.error
    }
  }

  get subject(): string {
    return this.m.subject
  }
  get seq(): number {
    return this.m.seq
  }
  get redelivered(): boolean {
    return this.m.redelivered
  }
  get storedAt(): number {
    return Math.floor(Number(this.m.info.timestampNanos) / 1e6)
  }
  get raw(): RawMessage {
    const m = this.m
    if (this.rawCache) return this.rawCache
    const headers = wireHeaders(m)
    return (this.rawCache = { stream: this.stream, subject: m.subject, seq: m.seq, data: m.data, headers, fingerprint: headers?.get(Header.SchemaFp) || undefined })
  }

  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    this.gauge.dec()
    return true
  }
  ack(): void {
    if (this.settle()) this.m.ack()
  }
  nak(delayMs?: number): void {
    if (this.settle()) this.m.nak(delayMs)
  }
  release(): void {
    this.settle()
  }
  working(): void {
    this.m.working()
  }
}

/**
 * Re-creates a durable so that it delivers strictly in order from a position: after `after`
 * (a stream sequence, 0 = from the start) or after its own ack floor. Stage runners re-position
 * at their checkpoint, projectors at their ack floor, so that no ack-all can ever cover a
 * message still waiting for redelivery.
 */
export async function repositionDurable(nc: NatsConnection, opts: Omit<FactConsumerOptions, 'dlq' | 'stage'>, after: number | 'ack-floor'): Promise<void> {
  const admin = await StreamAdmin.open(nc)
  // Only "not there" is an answer; any other failure throws (the caller's supervisor tries again).
  // A durable left in place because its delete failed (a leader election in a cluster: JetStream
  // answers with an error or not at all) kept its delivery pointer: the messages the last follower
  // had in hand and never settled would come again only after the ack wait, and the new
  // follower's first ack-all ack would cover them. A cluster test run lost 1,568 of 50,000 rows
  // with the projector's durable at ack floor 50,000 and created before both of the projector's
  // restarts: neither restart's delete had taken effect.
  let from = after === 'ack-floor' ? 0 : after
  if (after === 'ack-floor') {
    try {
      from = (await admin.consumer(opts.stream, opts.durable)).ack_floor.stream_seq
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err
    }
  }
  await admin.deleteConsumer(opts.stream, opts.durable)
  await ensureDurable(nc, { ...opts, ...(from > 0 ? { startSeq: from + 1 } : {}) })
}

/** Creates the durable consumer, or updates the settings that may change. */
export async function ensureDurable(nc: NatsConnection, opts: Omit<FactConsumerOptions, 'dlq' | 'stage'> & { readonly startSeq?: number }): Promise<void> {
  const jsm = await jetstreamManager(nc)
  const cfg: Partial<ConsumerConfig> = {
    durable_name: opts.durable,
    ack_policy: opts.ackAll ? AckPolicy.All : AckPolicy.Explicit,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: opts.maxAckPending ?? 10_000,
    deliver_policy: opts.startSeq ? DeliverPolicy.StartSequence : opts.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    ...(opts.startSeq ? { opt_start_seq: opts.startSeq } : {}),
    max_deliver: -1,
    ...(opts.filterSubject ? { filter_subject: opts.filterSubject } : {}),
  }
  try {
    const info = await jsm.consumers.info(opts.stream, opts.durable)
    if (info.config.ack_policy !== cfg.ack_policy) {
      // The ack policy of a consumer cannot change: re-create it. Its position restarts at the
      // ack floor's successor (delivered again, de-duplicated downstream).
      await jsm.consumers.delete(opts.stream, opts.durable)
      await jsm.consumers.add(opts.stream, { ...cfg, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.ack_floor.stream_seq + 1 })
      return
    }
    if (info.config.max_ack_pending !== cfg.max_ack_pending || info.config.ack_wait !== cfg.ack_wait) {
      await jsm.consumers.update(opts.stream, opts.durable, { max_ack_pending: cfg.max_ack_pending, ack_wait: cfg.ack_wait })
    }
  } catch {
    await jsm.consumers.add(opts.stream, cfg)
  }
}

/**
 * Acknowledges a run of envelopes of one ack-all consumer with a single ack (the highest
 * sequence), settling the others locally. With an explicit-ack consumer, acks each.
 */
export function ackUpTo(envs: readonly Envelope[], ackAll: boolean): void {
  if (!ackAll) {
    for (const e of envs) e.ack()
    return
  }
  let top: Envelope | undefined
  for (const e of envs) if (!top || e.seq > top.seq) top = e
  for (const e of envs) if (e !== top) e.release()
  top?.ack()
}

/** An Observable as an async iterable (for `for await` users of the library). */
export async function* toAsyncIterable<T>(source: Observable<T>): AsyncGenerator<T> {
  const buffer: T[] = []
  let done = false
  let failure: unknown
  let wake: (() => void) | undefined
  const sub = source.subscribe({
    next: (v) => {
      buffer.push(v)
      wake?.()
    },
    error: (e) => {
      failure = e
      done = true
      wake?.()
    },
    complete: () => {
      done = true
      wake?.()
    },
  })
  try {
    for (;;) {
      while (buffer.length) yield buffer.shift() as T
      if (done) break
      await new Promise<void>((r) => (wake = r))
      wake = undefined
    }
    if (failure) throw failure
  } finally {
    sub.unsubscribe()
  }
}
