import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { merge, Observable } from 'rxjs'
import { decodeWith, Header, type Result, type SchemaRegistry } from '../schemas/index.js'
import { isSubsetOf, overlaps, subjectMatches } from './subjects.js'
import { pendingFrom, startOfLast } from './position.js'

export interface FollowOptions {
  /**
   * false: deliver what is there from the start position and complete (`ben tail --no-follow`).
   * Default true: follow until unsubscribed.
   */
  readonly follow?: boolean
}

export interface Delivered {
  readonly stream: string
  readonly subject: string
  readonly seq: number
  /** Stream time of the message, ms. */
  readonly time: number
  /** The decoded record (fact, dead letter, hello) or why it could not be decoded. */
  readonly result: Result<unknown>
}

export type StartAt =
  | { readonly deliver: 'new' }
  | { readonly deliver: 'all' }
  | { readonly deliver: 'since'; readonly time: Date }
  | { readonly deliver: 'last'; readonly count: number }

/**
 * Follows every stream whose subjects overlap `pattern` with ordered (ephemeral, flow-
 * controlled) consumers, decoding Avro with the registry. Read-only: nothing is acked, no
 * durable state is left behind. Completes never; unsubscribe to stop.
 */
export function followSubjects(
  nc: NatsConnection,
  registry: SchemaRegistry,
  pattern: string,
  start: StartAt = { deliver: 'new' },
  options: FollowOptions = {},
): Observable<Delivered> {
  return new Observable<Delivered>((subscriber) => {
    let inner: { unsubscribe(): void } | undefined
    let stopped = false
    ;(async () => {
      const jsm = await jetstreamManager(nc)
      const streams: StreamAt[] = []
      for await (const si of jsm.streams.list()) {
        const subs = si.config.subjects ?? []
        if (subs.some((s) => overlaps(s, pattern))) streams.push({ name: si.config.name, subjects: subs, lastSeq: si.state.last_seq, firstSeq: si.state.first_seq })
      }
      if (streams.length === 0) {
        subscriber.error(new Error(`no stream holds subjects matching '${pattern}'`))
        return
      }
      if (stopped) return
      inner = merge(...streams.map((s) => followStream(nc, registry, s, pattern, start, options.follow !== false))).subscribe(subscriber)
    })().catch((err) => subscriber.error(err))
    return () => {
      stopped = true
      inner?.unsubscribe()
    }
  })
}

interface StreamAt {
  readonly name: string
  readonly subjects: string[]
  readonly lastSeq: number
  readonly firstSeq: number
}

function followStream(nc: NatsConnection, registry: SchemaRegistry, s: StreamAt, pattern: string, start: StartAt, follow: boolean): Observable<Delivered> {
  return new Observable<Delivered>((subscriber) => {
    let stop: (() => void) | undefined
    let stopped = false
    ;(async () => {
      const js = jetstream(nc)
      const filterable = s.subjects.some((sub) => isSubsetOf(pattern, sub))
      const opts: Record<string, unknown> = filterable ? { filter_subjects: pattern } : {}
      if (start.deliver === 'new') opts.deliver_policy = DeliverPolicy.New
      else if (start.deliver === 'since') Object.assign(opts, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() })
      // The last n messages that match the pattern (not the last n of the stream).
      let lastStart = 0
      if (start.deliver === 'last') {
        lastStart = s.lastSeq === 0 ? 1 : await startOfLast(await jetstreamManager(nc), s.name, filterable ? pattern : undefined, s.firstSeq, s.lastSeq, start.count)
        Object.assign(opts, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: lastStart })
      } else if (start.deliver === 'all') opts.deliver_policy = DeliverPolicy.All
      // --no-follow: deliver what lies between the start and the end as it is now, then complete.
      if (!follow) {
        const jsm = await jetstreamManager(nc)
        const filter = filterable ? pattern : undefined
        const pending =
          start.deliver === 'new'
            ? 0
            : await pendingFrom(jsm, s.name, filter, start.deliver === 'since' ? { time: start.time } : start.deliver === 'last' ? { seq: lastStart } : { all: true })
        if (pending === 0 || s.lastSeq === 0) {
          subscriber.complete()
          return
        }
      }
      const c = await js.consumers.get(s.name, opts)
      const messages = await c.consume()
      stop = () => messages.stop()
      if (stopped) messages.stop()
      for await (const m of messages) {
        const end = !follow && (m.info.pending === 0 || m.seq >= s.lastSeq)
        if (filterable || subjectMatches(pattern, m.subject))
          subscriber.next({
            stream: s.name,
            subject: m.subject,
            seq: m.seq,
            time: Math.floor(Number(m.info.timestampNanos) / 1e6),
            result: m.headers?.get(Header.SchemaFp) ? decodeWith(registry, m.data, m.headers.get(Header.SchemaFp)) : { ok: true, value: tryJson(m.data) },
          })
        if (end) {
          messages.stop()
          subscriber.complete()
          return
        }
      }
    })().catch((err) => subscriber.error(err))
    return () => {
      stopped = true
      stop?.()
    }
  })
}

function tryJson(data: Uint8Array): unknown {
  const text = new TextDecoder().decode(data)
  try {
    return JSON.parse(text)
  } catch {
    return { raw: text }
  }
}
