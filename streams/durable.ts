import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerConfig, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { nanos, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core'
import { Observable } from 'rxjs'
import { StreamsError, StreamsErrorCode } from './errors.js'

/** A durable pull consumer to open: where, what, and where a new one starts. */
export interface DurableSpec {
  /** Full consumer name on the stream (`sub-anomalies-<name>`). */
  readonly consumer: string
  /** Subject filter; also how the stream is found. */
  readonly filter: string
  /** Where a new durable starts; an existing one resumes from its ack floor. */
  readonly start: { readonly deliver: 'new' } | { readonly deliver: 'all' } | { readonly deliver: 'since'; readonly time: Date }
  readonly ackWaitMs: number
  /** Bound on delivered, un-acked messages (server-enforced). */
  readonly maxAckPending: number
}

/**
 * What to do with one message: `T` to hand to the subscriber, or `null` to skip it (it is
 * acked: consumed but not of interest, or reported as undecodable by the caller).
 */
export type Accept<T> = (m: StreamMessage) => T | null

/** One delivered message as a caller of the durable sees it (never the JetStream message itself: acking stays here). */
export interface StreamMessage {
  readonly subject: string
  /** Stream sequence. */
  readonly seq: number
  readonly data: Uint8Array
  readonly headers?: MsgHdrs
}

/** Finds the stream, creates the durable (or checks the existing one) and starts pulling. */
async function openDurable(nc: NatsConnection, spec: DurableSpec): Promise<ConsumerMessages> {
  const jsm = await jetstreamManager(nc)
  let stream: string
  try {
    stream = await jsm.streams.find(spec.filter)
  } catch (err) {
    throw new StreamsError(StreamsErrorCode.NoStream, `no stream holds '${spec.filter}': is \`ben up\` running on this NATS?`, { cause: err })
  }
  const ackWait = nanos(spec.ackWaitMs)
  const existing = await jsm.consumers.info(stream, spec.consumer).catch(() => undefined)
  if (existing) {
    const have = existing.config.filter_subject ?? ''
    if (have !== spec.filter) {
      throw new StreamsError(
        StreamsErrorCode.DurableConflict,
        `durable consumer '${spec.consumer}' on ${stream} follows '${have || '(everything)'}', not '${spec.filter}': use another name for these filters, or delete that consumer`,
      )
    }
    if (existing.config.ack_wait !== ackWait || existing.config.max_ack_pending !== spec.maxAckPending) {
      await jsm.consumers.update(stream, spec.consumer, { ack_wait: ackWait, max_ack_pending: spec.maxAckPending })
    }
  } else {
    const s = spec.start
    const cfg: Partial<ConsumerConfig> = {
      durable_name: spec.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait,
      max_ack_pending: spec.maxAckPending,
      max_deliver: -1,
      filter_subject: spec.filter,
      deliver_policy: s.deliver === 'all' ? DeliverPolicy.All : s.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.StartTime,
      ...(s.deliver === 'since' ? { opt_start_time: s.time.toISOString() } : {}),
    }
    // Two subscribers creating the same durable at once: the loser finds it made.
    await jsm.consumers.add(stream, cfg).catch(async (err) => {
      if (!(await jsm.consumers.info(stream, spec.consumer).catch(() => undefined))) throw err
    })
  }
  const consumer = await jetstream(nc).consumers.get(stream, spec.consumer)
  // Short pulls: a pull left open by a stopped subscriber can only take facts for this long.
  return consumer.consume({ max_messages: 100, expires: 5000 })
}

/**
 * Stops pulling. Whatever was pulled ahead but not handed over (only with maxAckPending > 1)
 * is left un-acked: the server delivers it again after the ack wait, in order. It is not
 * nak'ed: nats-server 2.9 mishandles a burst of naks on a pull consumer (one redelivery goes
 * to the stopped pull, another message is delivered twice), which would break "no repeats".
 */
async function release(messages: ConsumerMessages, it: AsyncIterator<JsMsg>): Promise<void> {
  messages.stop()
  for (;;) {
    const r = await it.next()
    if (r.done) return
  }
}

/**
 * A durable consumer as an Observable: each message is acked after the subscriber's `next`
 * returns (so a message whose `next` was running when the subscriber unsubscribed counts as
 * handled: the pull stops first, then the ack goes, so the server hands nothing more to this
 * subscriber). With maxAckPending 1 nothing is pulled ahead, so a restart resumes exactly.
 */
export function durableObservable<T>(nc: NatsConnection, spec: DurableSpec, accept: Accept<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    let stopped = false
    let messages: ConsumerMessages | undefined
    let it: AsyncIterator<JsMsg> | undefined
    ;(async () => {
      messages = await openDurable(nc, spec)
      it = messages[Symbol.asyncIterator]()
      if (stopped) return release(messages, it)
      for (;;) {
        const r = await it.next()
        if (r.done) break
        const m = r.value
        if (stopped) continue
        const v = accept(m)
        if (v !== null) subscriber.next(v)
        m.ack()
      }
      if (!stopped) subscriber.complete()
    })().catch((err) => {
      if (!stopped) subscriber.error(err)
    })
    return () => {
      if (stopped) return
      stopped = true
      messages?.stop()
    }
  })
}

/**
 * A durable consumer as an async iterator without a buffer of its own: a fact is acked when
 * the next one is pulled, or when the loop is left (`break`, `return`, or an exception in the
 * loop body: the fact in hand counts as handled; the pull stops before that ack goes).
 */
export function durableIterator<T>(nc: NatsConnection, spec: DurableSpec, accept: Accept<T>): AsyncIterator<T> & AsyncIterable<T> {
  let messages: ConsumerMessages | undefined
  let it: AsyncIterator<JsMsg> | undefined
  let inHand: JsMsg | undefined
  let done = false
  const settle = () => {
    inHand?.ack()
    inHand = undefined
  }
  const self: AsyncIterator<T> & AsyncIterable<T> = {
    async next(): Promise<IteratorResult<T>> {
      settle()
      if (done) return { done: true, value: undefined }
      if (!messages) {
        messages = await openDurable(nc, spec)
        it = messages[Symbol.asyncIterator]()
      }
      for (;;) {
        const r = await (it as AsyncIterator<JsMsg>).next()
        if (r.done || done) {
          done = true
          return { done: true, value: undefined }
        }
        const v = accept(r.value)
        if (v === null) {
          r.value.ack()
          continue
        }
        inHand = r.value
        return { done: false, value: v }
      }
    },
    async return(): Promise<IteratorResult<T>> {
      done = true
      messages?.stop()
      settle()
      if (messages && it) await release(messages, it)
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]() {
      return self
    },
  }
  return self
}
