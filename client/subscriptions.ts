import type { NatsConnection } from '@nats-io/nats-core'
import { catchError, Observable, throwError } from 'rxjs'
import { Header, isToken, SEVERITY_ORDER, type AnomalyFact, type Fact, type FactCodec, type IncidentFact, type Severity } from '../schemas/index.js'
import {
  followSubjects,
  toAsyncIterable,
  type StartAt,
  type Subjects,
  durableIterator,
  durableObservable,
  type DurableSpec,
  isStreamsError,
  type StreamMessage,
} from '../streams/index.js'
import { ClientError, ClientErrorCode } from './errors.js'

/** A stream of decoded records that is both an Observable and an async iterable. */
export type Subscription<T> = Observable<T> & AsyncIterable<T>

/** Where a subscription starts: only new facts, everything kept, a time (Date or epoch ms), or the last n messages. */
export type Since = 'new' | 'all' | Date | number | { readonly last: number }

/** A message on the subscribed subjects that is not a decodable fact of the kind asked for. */
export interface RejectedDelivery {
  readonly subject: string
  readonly seq: number
  readonly reason: string
  readonly message: string
}

export interface DerivedOptions {
  /**
   * The source: an exact source id (`web-3`, filtered by subject on the server), or a glob in
   * which `*` matches any run of characters (`web-*`, `*-db`, filtered here). Default: all.
   */
  readonly source?: string
  /** Minimum severity: low < medium < high < critical (filtered here; `critical` also by subject for anomalies). */
  readonly severity?: Severity
  /**
   * Where to start. Default `new`. With `name`, only where a NEW durable starts; an existing
   * one resumes from its position (`{ last }` is refused for durables).
   */
  readonly since?: Since
  /**
   * Durable consumer name (a subject token, e.g. `app-1`). Given: a durable pull consumer
   * `sub-<anomalies|incidents>-<name>` on the stream remembers what was handled, so a program
   * restarting with the same name continues where it left off, without loss or repeats.
   * Not given: an ordered ephemeral consumer that leaves nothing behind.
   */
  readonly name?: string
  /** Durable only: an un-acked fact is delivered again after this long. Default 30 s. */
  readonly ackWaitMs?: number
  /**
   * Durable only: facts delivered and not yet acked, at most (server-enforced). Default 1: the
   * server hands over the next fact when the last one is acked, so a subscriber that stops
   * leaves nothing pulled ahead and a restart resumes exactly (one round trip per fact). More
   * pulls ahead for throughput; facts pulled ahead when a subscriber stops come back (in order,
   * never twice) only after `ackWaitMs`.
   */
  readonly maxAckPending?: number
  /** Not durable only: false delivers what is there from `since` on and completes. Default true. */
  readonly follow?: boolean
  /** Messages that are not a decodable fact of the kind asked for are skipped and reported here. */
  readonly onReject?: (r: RejectedDelivery) => void
}

/** What the subscriptions need of a Ben connection. */
export interface SubscriptionContext {
  readonly nc: NatsConnection
  readonly subjects: Subjects
  readonly codec: FactCodec
}

type DerivedKind = 'anomaly' | 'incident'
type FactOfKind<K extends DerivedKind> = K extends 'anomaly' ? AnomalyFact : IncidentFact

const SEVERITIES = Object.keys(SEVERITY_ORDER) as Severity[]
const GLOB_SPECIALS = /[\\^$.|?+()[\]{}]/g

/** An Observable that is also an async iterable (each iteration subscribes afresh). */
export function asSubscription<T>(o: Observable<T>): Subscription<T> {
  return Object.assign(o, { [Symbol.asyncIterator]: () => toAsyncIterable(o)[Symbol.asyncIterator]() })
}

/** Source pattern → the subject token to filter on (`*` when only a glob can tell) and a test. */
function compileSource(source: string | undefined): { token: string; test: ((s: string) => boolean) | undefined } {
  if (source === undefined || source === '*' || source === '>' || source === '') return { token: '*', test: undefined }
  if (!source.includes('*')) {
    if (!isToken(source)) throw new ClientError(ClientErrorCode.BadOption, `source '${source}' is not a source id: no '.', '>' or spaces (use '*' as a wildcard, e.g. 'web-*')`)
    return { token: source, test: undefined }
  }
  if (!isToken(source.replaceAll('*', 'x'))) throw new ClientError(ClientErrorCode.BadOption, `source pattern '${source}' may hold '*' wildcards but no '.', '>' or spaces`)
  const re = new RegExp(
    '^' +
      source
        .split('*')
        .map((p) => p.replace(GLOB_SPECIALS, '\\$&'))
        .join('.*') +
      '$',
  )
  return { token: '*', test: (s) => re.test(s) }
}

function checkSeverity(severity: string | undefined): number {
  if (severity === undefined) return -1
  const rank = SEVERITY_ORDER[severity as Severity]
  if (rank === undefined) throw new ClientError(ClientErrorCode.BadOption, `severity must be one of ${SEVERITIES.join(', ')}, not '${severity}'`)
  return rank
}

function checkSince(since: Since | undefined, durable: boolean): StartAt {
  if (since === undefined || since === 'new') return { deliver: 'new' }
  if (since === 'all') return { deliver: 'all' }
  if (since instanceof Date || typeof since === 'number') {
    const time = new Date(since)
    if (Number.isNaN(time.getTime())) throw new ClientError(ClientErrorCode.BadOption, `since is not a valid time: ${String(since)}`)
    return { deliver: 'since', time }
  }
  if (typeof since === 'object' && since !== null && Number.isInteger(since.last) && since.last > 0) {
    if (durable) throw new ClientError(ClientErrorCode.BadOption, `since { last } cannot start a durable: use 'new', 'all' or a time`)
    return { deliver: 'last', count: since.last }
  }
  throw new ClientError(ClientErrorCode.BadOption, `since must be 'new', 'all', a Date, epoch ms or { last: n }, not ${JSON.stringify(since)}`)
}

interface Plan<F extends Fact> {
  readonly kind: DerivedKind
  /** Subject filter, as narrow as the options allow. */
  readonly filter: string
  /** The client-side part of the filters. */
  readonly wanted: (f: F) => boolean
}

function planFor<K extends DerivedKind>(subjects: Subjects, kind: K, opts: DerivedOptions): Plan<FactOfKind<K>> {
  const src = compileSource(opts.source)
  const min = checkSeverity(opts.severity)
  let filter: string
  if (kind === 'anomaly') {
    const sev = opts.severity === 'critical' ? 'critical' : '*'
    filter = sev === '*' && src.token === '*' ? subjects.anomalyAll : subjects.anomaly(sev, src.token)
  } else {
    filter = src.token === '*' ? subjects.incidentAll : subjects.incident(src.token)
  }
  const test = src.test
  const wanted = (f: FactOfKind<K>): boolean => {
    if (test && !test(f.source)) return false
    if (min >= 0 && !((SEVERITY_ORDER[f.payload.severity as Severity] ?? -1) >= min)) return false
    return true
  }
  return { kind, filter, wanted }
}

/** Decodes one delivery; reports what is not a fact of the kind asked for. */
function decoder<K extends DerivedKind>(codec: FactCodec, plan: Plan<FactOfKind<K>>, onReject: DerivedOptions['onReject']) {
  return (subject: string, seq: number, data: Uint8Array, fingerprint: string | undefined): FactOfKind<K> | null => {
    const r = codec.decode(data, fingerprint)
    if (!r.ok) {
      onReject?.({ subject, seq, reason: r.error.reason, message: r.error.message })
      return null
    }
    if (r.value.kind !== plan.kind) {
      onReject?.({ subject, seq, reason: 'kind_mismatch', message: `expected a ${plan.kind} fact on ${subject}, got ${String(r.value.kind)}` })
      return null
    }
    const f = r.value as FactOfKind<K>
    return plan.wanted(f) ? f : null
  }
}

function subscribeDerived<K extends DerivedKind>(ctx: SubscriptionContext, kind: K, opts: DerivedOptions): Subscription<FactOfKind<K>> {
  const plan = planFor(ctx.subjects, kind, opts)
  const decode = decoder(ctx.codec, plan, opts.onReject)
  const start = checkSince(opts.since, opts.name !== undefined)
  if (opts.name === undefined) {
    const source = followSubjects(ctx.nc, ctx.codec.registry, plan.filter, start, { follow: opts.follow })
    const facts = new Observable<FactOfKind<K>>((subscriber) =>
      source.subscribe({
        next: (d) => {
          if (!d.result.ok) {
            opts.onReject?.({ subject: d.subject, seq: d.seq, reason: d.result.error.reason, message: d.result.error.message })
            return
          }
          const f = d.result.value as Fact
          if (f?.kind !== kind) {
            opts.onReject?.({ subject: d.subject, seq: d.seq, reason: 'kind_mismatch', message: `expected a ${kind} fact on ${d.subject}` })
            return
          }
          if (plan.wanted(f as FactOfKind<K>)) subscriber.next(f as FactOfKind<K>)
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    )
    return asSubscription(facts)
  }
  if (opts.follow === false) throw new ClientError(ClientErrorCode.BadOption, `follow: false goes with a non-durable subscription (no name)`)
  if (!isToken(opts.name) || opts.name.includes('*') || !/^[A-Za-z0-9_-]+$/.test(opts.name)) {
    throw new ClientError(ClientErrorCode.BadOption, `durable name '${opts.name}' must be letters, digits, '-' or '_' (e.g. app-1)`)
  }
  for (const [k, v] of [
    ['ackWaitMs', opts.ackWaitMs],
    ['maxAckPending', opts.maxAckPending],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new ClientError(ClientErrorCode.BadOption, `${k} must be a positive whole number, not ${String(v)}`)
  }
  const spec: DurableSpec = {
    consumer: `sub-${kind === 'anomaly' ? 'anomalies' : 'incidents'}-${opts.name}`,
    filter: plan.filter,
    start: start as DurableSpec['start'],
    ackWaitMs: opts.ackWaitMs ?? 30_000,
    maxAckPending: opts.maxAckPending ?? 1,
  }
  const accept = (m: StreamMessage) => decode(m.subject, m.seq, m.data, m.headers?.get(Header.SchemaFp) || undefined)
  const facts = durableObservable(ctx.nc, spec, accept).pipe(catchError((err: unknown) => throwError(() => asClientError(err))))
  return Object.assign(facts, { [Symbol.asyncIterator]: () => clientErrors(durableIterator(ctx.nc, spec, accept)) })
}

/** The library's callers branch on `isClientError`: streams' refusals (no stream, durable conflict) keep their code under that name. */
function asClientError(err: unknown): unknown {
  return isStreamsError(err) ? new ClientError(err.code, err.message, { cause: err }) : err
}

function clientErrors<T>(it: AsyncIterator<T> & AsyncIterable<T>): AsyncIterator<T> & AsyncIterable<T> {
  const self: AsyncIterator<T> & AsyncIterable<T> = {
    next: () => it.next().catch((err: unknown) => Promise.reject(asClientError(err))),
    return: () => (it.return ? it.return() : Promise.resolve({ done: true, value: undefined })),
    [Symbol.asyncIterator]: () => self,
  }
  return self
}

/** Decoded anomaly facts from `<prefix>.anomaly.<severity>.<source>`, filtered and optionally durable. */
export function subscribeAnomalies(ctx: SubscriptionContext, opts: DerivedOptions = {}): Subscription<AnomalyFact> {
  return subscribeDerived(ctx, 'anomaly', opts)
}

/** Decoded incident transition facts (opened, updated, resolved) from `<prefix>.incident.<source>`. */
export function subscribeIncidents(ctx: SubscriptionContext, opts: DerivedOptions = {}): Subscription<IncidentFact> {
  return subscribeDerived(ctx, 'incident', opts)
}
