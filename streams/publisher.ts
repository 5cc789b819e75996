import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { preEncodedHeaders, withHeaderLines } from './headers.js'
import { FrameWriter, type FramePosition } from './frames.js'
import { readPubAcks, type PubAckReading } from './pub-acks.js'
import { TokenTable } from './token-table.js'
import { DelayWindow } from './delay-window.js'

export { preEncodedHeaders, withHeaderLines }
import { FactCodec, Header, laneOf, RAW_KINDS, type Fact } from '../schemas/index.js'
import type { Subjects } from './subjects.js'
import { PublishFailure } from './errors.js'
import { publishedBy } from './metrics.js'

export const PublishStatus = { Stored: 'stored', Duplicate: 'duplicate', Failed: 'failed' } as const
export type PublishStatus = (typeof PublishStatus)[keyof typeof PublishStatus]

export interface PublishOutcome {
  readonly id: string
  readonly status: PublishStatus
  /** Stream sequence (stored or duplicate). */
  readonly seq?: number
  readonly error?: string
  /** Why it failed, from a fixed set (callers test this, never the message text). */
  readonly code?: PublishFailure
}

export interface PublishReport {
  stored: number
  duplicate: number
  failed: number
  retried: number
  failures: Array<{ id: string; error: string }>
}

/**
 * The outcome of a stored message acknowledged: its id is read from the message only if the
 * callback asks for it (the drain does not), not made into a string per PubAck.
 */
class StoredOutcome implements PublishOutcome {
  constructor(
    readonly status: PublishStatus,
    readonly seq: number | undefined,
    private readonly m: ReadyMessage,
  ) {}

  get id(): string {
    return this.m.id
  }
}

/** The fact id of a publish awaited: given, or read from its stored message. */
const idOf = (p: { id: string | undefined; ctx: unknown }): string => p.id ?? (p.ctx as ReadyMessage).id

export interface PublisherOptions {
  /** Maximum PubAcks awaited at once. Default 4096. */
  readonly window?: number
  /** A PubAck not received within this many ms is retried with the same Nats-Msg-Id. Default 5000. */
  readonly ackTimeoutMs?: number
  /** Retries after a timeout before the fact is reported failed. Default 5. */
  readonly retries?: number
  /**
   * Check a raw fact's `duplicate` answer against the message JetStream kept (same subject, so
   * the same source and id) before counting it delivered: one stream read per duplicate. Default
   * false; the client (`ben publish`, the library) turns it on. A sidecar may not read other
   * sources' messages and leaves it off.
   */
  readonly verifyDuplicates?: boolean
  /**
   * A publish that no stream answers (503 no responders) is sent again with the same
   * Nats-Msg-Id for up to this many ms before it is reported `no_stream`. On a cluster, a
   * stream whose leader just died has no listener until its peers elect another. Default 0
   * (a single server: no stream means a missing topology, reported at once).
   */
  readonly waitForStreamMs?: number
  /**
   * Queueing delay (ms) the routine publishes may cause: the window of metric, event and diag
   * facts follows their PubAcks' delay (`DelayWindow`). 0: the whole `window`, always. Alerts and
   * everything derived past the routine lanes have the whole window. Default DELAY_TARGET_MS.
   */
  readonly delayTargetMs?: number
}

/** Default queueing delay the routine publishes may cause at the server (ms): see DelayWindow. */
export const DELAY_TARGET_MS = 10

type Callback = (outcome: PublishOutcome) => void

/**
 * A message stored ready to send (the sidecar's WAL record), read in place: its header block is
 * `bytes[blockAt, blockEnd)` (ending with its empty line), its payload `bytes[dataAt, end)`.
 */
export interface ReadyMessage {
  readonly subject: string
  readonly bytes: Uint8Array
  readonly blockAt: number
  readonly blockEnd: number
  readonly dataAt: number
  readonly end: number
  /** Its Nats-Msg-Id, read only when an outcome is given (it need not be kept as a string meanwhile). */
  readonly id: string
}

/**
 * The callback of `trySendStored`: the outcome, and the message (`ctx`) and `tag` the send was
 * given back as they were, so that a caller sending many facts passes one function, not a
 * closure per fact.
 */
export type StoredCallback<C> = (outcome: PublishOutcome, ctx: C, tag: number) => void

/**
 * Reads a PubAck without JSON.parse on the hot path: `{"stream":"FACTS","seq":12}` or with
 * `,"duplicate":true`; anything else (an API error) goes through JSON.parse.
 */
const DUPLICATE = /"duplicate":\s*true/

export function parsePubAck(data: Uint8Array): { seq?: number; duplicate: boolean; error?: string } {
  // read on the bytes (no string per PubAck), in loops: a PubAck is a few dozen bytes, less than
  // Buffer's native indexOf and compare cost to call; `"seq":` then digits; `"duplicate"` is rare
  const b = data
  const at = indexOfBytes(b, SEQ_KEY, 0)
  if (at >= 0 && !startsWith(b, ERROR_START)) {
    let seq = 0
    let i = at + SEQ_KEY.length
    while (b[i] === 32) i++
    for (; i < b.length; i++) {
      const c = b[i] - 48
      if (c < 0 || c > 9) break
      seq = seq * 10 + c
    }
    return { seq, duplicate: indexOfBytes(b, DUPLICATE_KEY, 0) >= 0 && DUPLICATE.test(latin1(b)) }
  }
  const text = latin1(b)
  try {
    const v = JSON.parse(text) as { error?: { description?: string; code?: number } }
    return { duplicate: false, error: `JetStream refused: ${v.error?.description ?? v.error?.code ?? text.slice(0, 120)}` }
  } catch {
    return { duplicate: false, error: `unreadable PubAck: ${text.slice(0, 120)}` }
  }
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')

/** Where `pat` first occurs in `b` at or after `from`, or -1 (Buffer#indexOf's answer, in a loop). */
function indexOfBytes(b: Uint8Array, pat: Uint8Array, from: number): number {
  const first = pat[0]
  const last = b.length - pat.length
  outer: for (let i = from; i <= last; i++) {
    if (b[i] !== first) continue
    for (let j = 1; j < pat.length; j++) if (b[i + j] !== pat[j]) continue outer
    return i
  }
  return -1
}

function startsWith(b: Uint8Array, pat: Uint8Array): boolean {
  if (b.length < pat.length) return false
  for (let j = 0; j < pat.length; j++) if (b[j] !== pat[j]) return false
  return true
}
const SEQ_KEY = Buffer.from('"seq":', 'latin1')

/**
 * The token of a PubAck's subject (`<inbox>.<token>`; `at` is where the token starts): read on
 * the subject's bytes when nats.js keeps them (its message's `_msg.subject`), without decoding
 * the subject into a string per PubAck; otherwise from `msg.subject`. NaN when it is not digits.
 */
export function replyToken(msg: Pick<Msg, 'subject'>, at: number): number {
  const raw = (msg as { _msg?: { subject?: unknown } })._msg?.subject
  if (!(raw instanceof Uint8Array)) return Number(msg.subject.slice(at))
  if (raw.length <= at || raw.length - at > 16) return NaN
  let v = 0
  for (let i = at; i < raw.length; i++) {
    const c = raw[i] - 48
    if (c < 0 || c > 9) return NaN
    v = v * 10 + c
  }
  return v
}
const ERROR_START = Buffer.from('{"error"', 'latin1')
const DUPLICATE_KEY = Buffer.from('"duplicate"', 'latin1')

/** A fact's header block up to its message id (`NATS/1.0\r\nNats-Msg-Id: `). */
export const HEADER_PREFIX = 'NATS/1.0\r\n' + Header.MsgId + ': '

/** The header block of a fact, as text: `Nats-Msg-Id`, `Ben-Schema`, `Ben-Schema-Fp`. */
export function factHeaderBlock(id: string, schema: string, fingerprint: string): string {
  return `${HEADER_PREFIX}${id}\r\n${Header.Schema}: ${schema}\r\n${Header.SchemaFp}: ${fingerprint}\r\n\r\n`
}

/**
 * The `Nats-Msg-Id` of a fact. JetStream de-duplicates by this id across the whole stream, so
 * a raw fact's id is bound to its source: `<source>:<id>`. A fact from web-2 that carries
 * web-1's id is then another message, and stored; scrub refuses a raw fact whose message id is
 * not bound to the source of its subject (reason `msg_id_mismatch`). Derived facts keep their
 * id (a hash of stage, version, config and inputs).
 */
export function factMsgId(f: Pick<Fact, 'kind' | 'id' | 'source'>): string {
  return msgIdHasSource(f.kind) ? `${f.source}:${f.id}` : f.id
}

/** Whether a fact of this kind is a raw fact, whose `Nats-Msg-Id` is `<source>:<id>`. */
function msgIdHasSource(kind: Fact['kind']): boolean {
  return kind === 'metric' || kind === 'event' || kind === 'diag' || kind === 'alert'
}

const HEAD = Buffer.from(HEADER_PREFIX, 'latin1')

/** The headers for a fact: `Nats-Msg-Id`, `Ben-Schema`, `Ben-Schema-Fp`. */
export function factHeaders(id: string, schema: string, fingerprint: string): MsgHdrs {
  return preEncodedHeaders(Buffer.from(factHeaderBlock(id, schema, fingerprint), 'latin1'))
}

const NO_BYTES = new Uint8Array(0)
const noCallback: StoredCallback<unknown> = () => undefined

/**
 * A publish awaiting its PubAck. Those of plain PubAcks are used again (`FactPublisher.recycle`):
 * a send in the steady state makes no object of its own.
 */
class Pending {
  /** The fact id; undefined for a stored message, whose id `ctx` gives when an outcome is made. */
  id: string | undefined = undefined
  subject = ''
  /**
   * The encoded header block (`NATS/1.0…`) is `buf[h, d)`, kept for a retry; the payload is
   * `data`, or `buf[d, e)` (a frame in the writer's chunk: no view made unless it is retried).
   */
  buf: Uint8Array = NO_BYTES
  h = 0
  d = 0
  e = 0
  data: Uint8Array | undefined = undefined
  sentAt = 0
  attempts = 1
  cb: StoredCallback<unknown> = noCallback
  /** Given back to `cb` with the outcome (trySendStored: the ReadyMessage), or the send's owner (trySend); `forgetPending(owner)` matches it. */
  ctx: unknown = undefined
  tag = 0
  /** A raw fact: a `duplicate` answer is checked against the subject of the message JetStream kept. */
  verify = false
  /** When it first met no stream (waitForStreamMs): a 503 after this + the wait fails it. */
  noStreamSince: number | undefined = undefined
  /** Order of the first send: what was not acknowledged is sent again in this order after a reconnect. */
  order = 0
  /** Sent at least once (a fact taken in while disconnected waits for the reconnect). */
  sent = false
}

/** Oldest first send first (`Pending.order`). */
const byOrder = (a: [number, Pending], b: [number, Pending]): number => a[1].order - b[1].order

/**
 * The acknowledged publisher. Facts go out as plain publishes with a reply subject on one
 * shared inbox subscription; PubAcks come back there and are matched by token. Up to `window`
 * PubAcks are awaited at once (not one request/reply round trip per fact, no timer or promise
 * per fact). A fact whose PubAck does not arrive in time is sent again with the same
 * `Nats-Msg-Id`, so JetStream de-duplicates it and a retry never stores twice.
 *
 * A retry that comes back `duplicate` is reported `stored`: the first attempt reached the
 * stream. A first attempt that comes back `duplicate` is reported `duplicate`.
 */
export class FactPublisher {
  /** Under the connection's inbox prefix: a sidecar may only subscribe to its own inbox. */
  private readonly inbox: string
  /** `<inbox>.` as bytes: a PubAck's reply subject is this and a token. */
  private readonly replyPrefix: Buffer
  /** By fact kind: the header lines after the message id (`Ben-Schema`, `Ben-Schema-Fp`, empty line). */
  private readonly tails = new Map<string, Buffer>()
  private readonly sub: Subscription
  private readonly pending: TokenTable<Pending>
  /** Pending objects of plain PubAcks settled, used again (at most a window's worth). */
  private readonly spare: Pending[] = []
  private readonly window: number
  /** The routine facts' window, following the PubAcks' delay; undefined: the whole window. */
  private readonly delay: DelayWindow | undefined
  /** Routine publishes allowed in flight now (`delay`'s value, or `window`). */
  private routineLimit: number
  /** The token of the publish being timed (0: none), and when it was sent. */
  private timed = 0
  private timedAt = 0
  /** `<prefix>.fact.<kind>.` and `<prefix>.scrubbed.<kind>.` of the routine lane's kinds: what `routineLimit` holds back. */
  private readonly routineSubjects: readonly string[]
  private readonly ackTimeoutMs: number
  private readonly retries: number
  private readonly waitForStreamMs: number
  /** Senders waiting for room, in the order they first waited (`n`: their turn). */
  private readonly waiters: Array<{ readonly n: number; readonly go: () => void }> = []
  private turns = 0
  private readonly idleWaiters: Array<() => void> = []
  private readonly factPrefix: string
  private readonly sweeper: NodeJS.Timeout
  private readonly frames: FrameWriter
  /** Plain PubAcks read off the connection's bytes (pub-acks.ts); undefined: all through `onAck`. */
  private readonly acks: PubAckReading | undefined
  private token = 0
  private order = 0
  /**
   * Between a disconnect and the reconnect: facts are taken in (the window still bounds them) but
   * held, and the sweeper does not retry. See `resume`.
   */
  private offline = false
  /** Coarse clock for ack timeouts, advanced by the sweeper (no clock read per fact). */
  private now = performance.now()
  private closed = false

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly codec = new FactCodec(),
    opts: PublisherOptions = {},
  ) {
    this.frames = new FrameWriter(nc)
    this.inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    this.replyPrefix = Buffer.from(`${this.inbox}.`, 'utf8')
    this.factPrefix = opts.verifyDuplicates === true ? `${subjects.prefix}.fact.` : '\u0000never'
    this.window = opts.window ?? 4096
    this.pending = new TokenTable<Pending>(this.window)
    const target = opts.delayTargetMs ?? DELAY_TARGET_MS
    this.delay = target > 0 ? new DelayWindow(this.window, target) : undefined
    this.routineLimit = this.window
    this.routineSubjects = RAW_KINDS.filter((k) => laneOf(k) === 'routine').flatMap((k) => [subjects.fact(k, ''), subjects.scrubbed(k, '')])
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000
    this.retries = opts.retries ?? 5
    this.waitForStreamMs = opts.waitForStreamMs ?? 0
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err ? undefined : this.onAck(msg)) })
    this.acks = readPubAcks(nc, { prefix: this.replyPrefix, sub: this.sub, stored: (token, seq) => this.onStored(token, seq) })
    const period = Math.max(50, Math.floor(this.ackTimeoutMs / 4))
    this.sweeper = setInterval(() => {
      const now = performance.now()
      // The process did not run for `stalled` ms (a long synchronous task, a starved CPU): that
      // time does not count against the PubAcks awaited, whose answers may be waiting unread.
      const stalled = now - this.now - 2 * period
      if (stalled > 0) this.pending.forEach((p) => (p.sentAt += stalled))
      this.now = now
      // The publish being timed was retried (a new token) or lost: time the next one.
      if (this.timed !== 0 && !this.pending.get(this.timed)) this.timed = 0
      this.sweep()
    }, period)
    this.sweeper.unref()
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.offline = true
        else if (s.type === 'reconnect') this.resume()
      }
    })().catch(() => undefined)
  }

  /**
   * After a reconnect: sends again, in the order they were first sent, every fact not yet
   * acknowledged, before anything newer. The client drops what it buffered while disconnected,
   * and what was in flight when the server died is lost; the server stored a prefix of what
   * was sent, and those come back `duplicate` (counted stored). Without this, facts published
   * after the reconnect would be stored ahead of the ones retried later by the sweeper, and a
   * source's facts would be out of order in the stream: detectors score series in stream order.
   */
  private resume(): void {
    this.offline = false
    this.now = performance.now()
    const again = this.pending.entries().sort(byOrder)
    for (const [token, p] of again) {
      this.pending.delete(token)
      this.frames.settled(p.buf, false) // what was sent before the disconnect may or may not have left
      if (p.sent) {
        p.attempts++
        this.retriedTotal++
      }
      p.sent = true
      p.sentAt = this.now
      const fresh = ++this.token
      this.pending.set(fresh, p)
      this.transmit(fresh, p)
    }
  }

  /** The largest message the server accepts (headers included). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024
  }

  get inFlight(): number {
    return this.pending.size
  }

  /** Routine publishes allowed in flight now: the whole window, or less while the server's answers are slow (DelayWindow). */
  get routineWindow(): number {
    return this.routineLimit
  }

  /** Publishes one fact on its subject (scrubbed subjects for facts made by scrub). */
  publish(fact: Fact, subject?: string): Promise<PublishOutcome> {
    return new Promise((resolve) => void this.send(fact, subject, resolve))
  }

  /**
   * Publishes a fact through the window; `cb` gets its outcome. Resolves once the fact is
   * in flight (so callers feel backpressure), not when it is acknowledged.
   */
  async send(fact: Fact, subject: string | undefined, cb: Callback, owner?: object): Promise<void> {
    for (let turn = 0; !this.trySend(fact, subject, cb, owner); ) await this.slot((turn ||= ++this.turns))
  }

  /**
   * Sends at once if the window has room; false (nothing sent) when it is full. `owner`: whose send
   * it is, for `forgetPending(owner)` (a stage runner sharing the publisher with others).
   */
  trySend(fact: Fact, subject: string | undefined, cb: Callback, owner?: object): boolean {
    if (this.pending.size >= (laneOf(fact.kind) === 'routine' ? this.routineLimit : this.window) && !this.closed) return false
    const subj = subject ?? this.subjects.forFact(fact)
    if (this.closed || this.offline || !this.frames.direct || this.nc.isClosed()) {
      const w = this.codec.writer(fact.kind)
      this.enqueue(subj, this.codec.encode(fact).data, Buffer.from(factHeaderBlock(factMsgId(fact), w.name, w.fingerprint), 'latin1'), fact.id, cb, owner)
      return true
    }
    // The hot path: the Avro bytes and headers are written straight into the outgoing frame, the
    // header block from its fixed parts (the same bytes as factHeaderBlock's).
    const token = ++this.token
    const sourced = msgIdHasSource(fact.kind)
    const tail = this.tails.get(fact.kind) ?? this.tailOf(fact.kind)
    const framed = this.frames.writeEncoded(
      subj,
      this.replyPrefix,
      token,
      HEAD,
      sourced ? fact.source : fact.id,
      sourced ? fact.id : undefined,
      tail,
      this.codec,
      fact,
      this.maxPayload,
    )
    if (!framed) {
      publishedBy.failed.inc()
      cb({
        id: fact.id,
        status: 'failed',
        code: PublishFailure.NotSent,
        error: `publish failed: the fact is larger than the server's max payload (${this.maxPayload} bytes with headers)`,
      })
      return true
    }
    this.track(token, fact.id, subj, framed, cb, owner)
    return true
  }

  /** The header lines after the message id for facts of this kind. */
  private tailOf(kind: Fact['kind']): Buffer {
    const w = this.codec.writer(kind)
    const block = factHeaderBlock('', w.name, w.fingerprint)
    const tail = Buffer.from(block.slice(HEADER_PREFIX.length), 'latin1')
    this.tails.set(kind, tail)
    return tail
  }

  /** Awaits the PubAck of a frame just written. */
  private track(token: number, id: string | undefined, subject: string, framed: FramePosition, cb: StoredCallback<unknown>, ctx?: unknown, tag = 0): void {
    if (this.pending.size === 0) this.lastAnswer = this.now
    const p = this.spare.pop() ?? new Pending()
    p.id = id
    p.subject = subject
    p.buf = framed.chunk
    p.h = framed.h
    p.d = framed.d
    p.e = framed.e
    p.data = undefined
    p.sentAt = this.now
    p.attempts = 1
    p.cb = cb
    p.ctx = ctx
    p.tag = tag
    p.verify = subject.startsWith(this.factPrefix)
    p.noStreamSince = undefined
    p.order = ++this.order
    p.sent = true
    this.pending.set(token, p)
    this.time(token)
  }

  /** Publishes already-encoded bytes (JSON edge facts, dead letters) with the same guarantees. */
  async sendRaw(subject: string, data: Uint8Array, headers: MsgHdrs, id: string, cb: Callback): Promise<void> {
    for (let turn = 0; this.pending.size >= this.limitOn(subject) && !this.closed; ) await this.slot((turn ||= ++this.turns))
    this.enqueue(subject, data, (headers as unknown as { encode(): Uint8Array }).encode(), id, cb)
  }

  /** `sendRaw` without waiting: false (nothing sent) when the window is full. */
  trySendRaw(subject: string, data: Uint8Array, headers: MsgHdrs, id: string, cb: Callback): boolean {
    if (this.pending.size >= this.limitOn(subject) && !this.closed) return false
    this.enqueue(subject, data, (headers as unknown as { encode(): Uint8Array }).encode(), id, cb)
    return true
  }

  /**
   * `trySendRaw` for a message stored ready to send (`m`: the sidecar's WAL record), written
   * straight into the outgoing frame with one more header line when `value` is not negative:
   * `<head><value>\r\n` (`head` latin1 bytes such as `Ben-Sidecar-Seq: `, `value` in decimal: the
   * WAL seq). `cb` gets the outcome with `m` and `tag` as given; the outcome's id is `m.id`.
   */
  trySendStored<M extends ReadyMessage>(m: M, head: Uint8Array, value: number, cb: StoredCallback<M>, tag: number): boolean {
    if (this.pending.size >= this.limitOn(m.subject) && !this.closed) return false
    const callback = cb as StoredCallback<unknown>
    const { subject, bytes } = m
    const line = value < 0 ? 0 : head.length + 17
    if (this.closed || this.offline || !this.frames.direct || this.nc.isClosed() || m.blockEnd - m.blockAt + line + m.end - m.dataAt > this.maxPayload) {
      const lines = value < 0 ? '' : `${Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1')}${value}\r\n`
      this.enqueue(subject, bytes.subarray(m.dataAt, m.end), withHeaderLines(bytes.subarray(m.blockAt, m.blockEnd), lines), undefined, callback, m, tag)
      return true
    }
    const token = ++this.token
    this.track(token, undefined, subject, this.frames.writeStored(subject, this.replyPrefix, token, bytes, m.blockAt, m.blockEnd, m.dataAt, head, value, m.end)!, callback, m, tag)
    return true
  }

  /** The window for a publish on `subject`: `routineLimit` on a routine lane's subject (fact or scrubbed), else the whole window. */
  private limitOn(subject: string): number {
    if (this.delay !== undefined) for (const s of this.routineSubjects) if (subject.startsWith(s)) return this.routineLimit
    return this.window
  }

  /** Times the publish under `token` when none is being timed: one a round trip. */
  private time(token: number): void {
    if (this.timed !== 0 || this.delay === undefined) return
    this.timed = token
    this.timedAt = performance.now()
  }

  /**
   * Waits for a settled publish, in line by `turn` (taken at the first wait). A sender woken with
   * no room (the routine window shrank meanwhile) waits again in its own place, before those who
   * came after it: the senders waiting go out in the order they came.
   */
  private slot(turn: number): Promise<void> {
    return new Promise<void>((go) => {
      let i = this.waiters.length
      while (i > 0 && this.waiters[i - 1].n > turn) i--
      this.waiters.splice(i, 0, { n: turn, go })
    })
  }

  private enqueue(subject: string, data: Uint8Array, headers: Uint8Array, id: string | undefined, cb: StoredCallback<unknown>, ctx?: unknown, tag = 0): void {
    if (this.closed) {
      publishedBy.failed.inc()
      cb({ id: id ?? (ctx as ReadyMessage).id, status: 'failed', code: PublishFailure.Closed, error: 'publisher is closed' }, ctx, tag)
      return
    }
    const token = ++this.token
    if (this.pending.size === 0) this.lastAnswer = this.now
    const p = new Pending()
    p.id = id
    p.subject = subject
    p.buf = headers
    p.d = headers.length
    p.e = headers.length
    p.data = data
    p.sentAt = this.now
    p.cb = cb
    p.ctx = ctx
    p.tag = tag
    p.verify = subject.startsWith(this.factPrefix)
    p.order = ++this.order
    p.sent = !this.offline
    this.pending.set(token, p)
    if (p.sent) {
      this.time(token)
      this.transmit(token, p)
    }
  }

  /** Publishes every fact and reports the totals. */
  async publishAll(facts: Iterable<Fact> | AsyncIterable<Fact>, onOutcome?: Callback): Promise<PublishReport> {
    const report: PublishReport = { stored: 0, duplicate: 0, failed: 0, retried: 0, failures: [] }
    const count: Callback = (o) => {
      report[o.status]++
      if (o.status === 'failed') report.failures.push({ id: o.id, error: o.error ?? 'unknown' })
      onOutcome?.(o)
    }
    if (Symbol.iterator in facts) {
      for (const f of facts as Iterable<Fact>) if (!this.trySend(f, undefined, count)) await this.send(f, undefined, count)
    } else {
      for await (const f of facts) await this.send(f, undefined, count)
    }
    await this.flush()
    report.retried = this.retriedTotal
    return report
  }

  private retriedTotal = 0

  /** Resolves when no PubAck is outstanding. */
  flush(): Promise<void> {
    if (this.pending.size === 0 && this.verifying === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  /** Milliseconds since the last PubAck or failure (0 when nothing is awaited). */
  get silentForMs(): number {
    return this.pending.size === 0 ? 0 : performance.now() - this.lastAnswer
  }

  /**
   * Fails every awaited PubAck now, with `error` (code `abandoned`): for a caller with a deadline
   * whose server stopped answering. A late PubAck for one of them is ignored.
   */
  failPending(error: string): void {
    for (const [token, p] of this.pending.entries().sort(byOrder)) this.settle(token, p, { id: idOf(p), status: 'failed', code: PublishFailure.Abandoned, error })
  }

  /**
   * Stops awaiting the PubAcks in flight, with no outcome and no count: for a caller that sends
   * again itself, in its own order (the sidecar's drain after a resync, a stage runner that failed
   * and re-derives from its checkpoint). Nothing of it is sent again by this publisher, not even
   * on a reconnect, and a late answer is ignored. `owner`: only the sends given that owner (or
   * that `ctx`); without it, every send.
   */
  forgetPending(owner?: unknown): void {
    for (const [token, p] of this.pending.entries()) {
      if (owner !== undefined && p.ctx !== owner) continue
      this.frames.settled(p.buf, false)
      this.pending.delete(token)
    }
    this.lastAnswer = this.now
    for (const w of this.waiters.splice(0)) w.go()
    if (this.verifying === 0) for (const r of this.idleWaiters.splice(0)) r()
  }

  async close(): Promise<void> {
    // Disconnected, nothing held can be acknowledged before the reconnect: fail it, not hang.
    if (this.offline) this.failPending('the publisher was closed while disconnected from NATS')
    await this.flush()
    this.closed = true
    clearInterval(this.sweeper)
    this.acks?.stop()
    this.sub.unsubscribe()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private transmit(token: number, p: Pending): void {
    try {
      if (this.nc.isClosed()) throw new Error('the connection is closed')
      const data = p.data ?? p.buf.subarray(p.d, p.e)
      if (p.d - p.h + data.length > this.maxPayload) throw new Error(`the message is larger than the server's max payload (${this.maxPayload} bytes with headers)`)
      this.frames.writeRaw(p.subject, this.replyPrefix, token, p.buf.subarray(p.h, p.d), data)
    } catch (err) {
      this.settle(token, p, { id: idOf(p), status: 'failed', code: PublishFailure.NotSent, error: `publish failed: ${(err as Error).message}` })
    }
  }

  private onAck(msg: Msg): void {
    const token = replyToken(msg, this.inbox.length + 1)
    const p = this.pending.get(token)
    if (!p) return // a late answer to a retried publish: already settled
    if (msg.headers?.code === 503) {
      if (this.waitForStreamMs > 0) {
        const since = (p.noStreamSince ??= this.now)
        if (this.now - since < this.waitForStreamMs) {
          // Sent again by the sweeper within about a quarter of the ack timeout; a send that met
          // no stream does not count as an attempt (a `duplicate` on the next one is then real).
          p.sentAt = this.now - this.ackTimeoutMs
          p.attempts--
          return
        }
      }
      this.settle(token, p, { id: idOf(p), status: 'failed', code: PublishFailure.NoStream, error: `no stream listens on ${p.subject}` })
      return
    }
    const ack = parsePubAck(msg.data)
    if (ack.error !== undefined) {
      this.settle(token, p, { id: idOf(p), status: 'failed', code: PublishFailure.Refused, error: ack.error })
      return
    }
    const status = ack.duplicate && p.attempts === 1 ? 'duplicate' : 'stored'
    if (status === 'duplicate' && p.verify && ack.seq !== undefined) {
      // Hold the window slot (no retry: it is out of `pending`) until the kept message is read.
      this.pending.delete(token)
      this.verifying++
      void this.sameFact(msg.data, ack.seq, p.subject).then((same) => {
        this.verifying--
        this.pending.set(token, p)
        if (same === false)
          this.settle(token, p, {
            id: idOf(p),
            status: 'failed',
            code: PublishFailure.IdConflict,
            error: `not stored: JetStream keeps another message under this fact's Nats-Msg-Id (seq ${ack.seq}, on another subject than ${p.subject}); another source used the id. Publish it with a different id`,
          })
        else this.settle(token, p, { id: idOf(p), status, seq: ack.seq })
      })
      return
    }
    this.settleStored(token, p, status, ack.seq)
  }

  /** The outcome of a message JetStream holds: a StoredOutcome for a stored message (trySendStored), else the fact's. */
  private settleStored(token: number, p: Pending, status: 'stored' | 'duplicate', seq: number | undefined): void {
    this.settle(token, p, p.id === undefined ? new StoredOutcome(status, seq, p.ctx as ReadyMessage) : { id: p.id, status, seq })
  }

  /** A plain PubAck (stored, not a duplicate, not an error) read by pub-acks.ts: what `onAck` does with it. */
  private onStored(token: number, seq: number): void {
    const p = this.pending.get(token)
    if (!p) return // a late answer to a retried publish: already settled
    this.settleStored(token, p, 'stored', seq)
    this.recycle(p)
  }

  /**
   * Keeps a settled publish's object to be used again. Only from `onStored`: nothing else holds
   * it then (it is out of `pending`, its outcome given; the loops that settle many at once work on
   * copies and may still reach theirs).
   */
  private recycle(p: Pending): void {
    p.buf = NO_BYTES
    p.data = undefined
    p.cb = noCallback
    p.ctx = undefined
    p.id = undefined
    if (this.spare.length < this.window) this.spare.push(p)
  }

  private verifying = 0

  /**
   * Whether the message JetStream kept at `seq` is on `subject`: a duplicate counts as delivered
   * only when it is the same fact. Undefined when it cannot be read (no permission: a sidecar
   * may read only its own subjects' last messages); the answer is then taken as it came.
   */
  private async sameFact(pubAck: Uint8Array, seq: number, subject: string): Promise<boolean | undefined> {
    try {
      const stream = /"stream":\s*"([^"]+)"/.exec(new TextDecoder().decode(pubAck))?.[1]
      if (!stream) return undefined
      const r = await this.nc.request(`$JS.API.STREAM.MSG.GET.${stream}`, JSON.stringify({ seq }), { timeout: this.ackTimeoutMs })
      const kept = JSON.parse(new TextDecoder().decode(r.data)) as { message?: { subject?: string } }
      return kept.message?.subject === undefined ? undefined : kept.message.subject === subject
    } catch {
      return undefined
    }
  }

  /** Coarse time of the last settled publish, or of the first send after an idle spell. */
  private lastAnswer = performance.now()

  private settle(token: number, p: Pending, outcome: PublishOutcome): void {
    this.pending.delete(token)
    if (token === this.timed) {
      const at = performance.now()
      this.routineLimit = this.delay!.sample(at - this.timedAt, at)
      this.timed = 0
    }
    this.frames.settled(p.buf, outcome.status !== 'failed')
    this.lastAnswer = this.now
    publishedBy[outcome.status].inc()
    p.cb(outcome, p.ctx, p.tag)
    this.waiters.shift()?.go()
    if (this.pending.size === 0 && this.verifying === 0) for (const r of this.idleWaiters.splice(0)) r()
  }

  /**
   * Finds the PubAcks overdue. The sweep runs in the timers phase, before the socket is read: an
   * answer may be waiting there unread. A retry later than JetStream's duplicate window would
   * store the fact a second time, so the overdue ones are retried (or failed) only after the
   * socket has been read (`setImmediate`: after the poll phase), and only if still unanswered.
   */
  private sweep(): void {
    // Disconnected: nothing can be acknowledged; everything is sent again on the reconnect.
    if (this.offline || this.overdue) return
    const now = this.now
    const due: number[] = []
    const late: Array<[number, Pending]> = []
    this.pending.forEach((p, token) => void (now - p.sentAt >= this.ackTimeoutMs && late.push([token, p])))
    // retried in the order they were first sent
    for (const [token] of late.sort(byOrder)) due.push(token)
    if (!due.length) return
    this.overdue = true
    setImmediate(() => {
      this.overdue = false
      this.retry(due)
    })
  }

  /** A sweep is waiting for the socket to be read before it retries. */
  private overdue = false

  private retry(due: readonly number[]): void {
    if (this.offline) return
    const now = this.now
    for (const token of due) {
      const p = this.pending.get(token)
      // Answered meanwhile, or sent again on a reconnect (under another token).
      if (!p) continue
      if (p.attempts > this.retries) {
        this.settle(token, p, { id: idOf(p), status: 'failed', code: PublishFailure.Timeout, error: `no PubAck after ${p.attempts} attempts of ${this.ackTimeoutMs} ms` })
        continue
      }
      // Re-send under a fresh token with the same Nats-Msg-Id: JetStream de-duplicates it.
      this.pending.delete(token)
      this.frames.settled(p.buf, false) // the first frame's fate is unknown
      p.attempts++
      p.sentAt = now
      this.retriedTotal++
      const fresh = ++this.token
      this.pending.set(fresh, p)
      this.transmit(fresh, p)
    }
  }
}
