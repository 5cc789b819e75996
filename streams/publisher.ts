import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { FactCodec, Header, type Fact } from '../schemas/index.js'
import type { Subjects } from './subjects.js'

export const PublishStatus = { Stored: 'stored', Duplicate: 'duplicate', Failed: 'failed' } as const
export type PublishStatus = (typeof PublishStatus)[keyof typeof PublishStatus]

export interface PublishOutcome {
  readonly id: string
  readonly status: PublishStatus
  /** Stream sequence (stored or duplicate). */
  readonly seq?: number
  readonly error?: string
}

export interface PublishReport {
  stored: number
  duplicate: number
  failed: number
  retried: number
  failures: Array<{ id: string; error: string }>
}

export interface PublisherOptions {
  /** Maximum PubAcks awaited at once. Default 4096. */
  readonly window?: number
  /** A PubAck not received within this many ms is retried with the same Nats-Msg-Id. Default 5000. */
  readonly ackTimeoutMs?: number
  /** Retries after a timeout before the fact is reported failed. Default 5. */
  readonly retries?: number
}

type Callback = (outcome: PublishOutcome) => void

interface Pending {
  id: string
  subject: string
  data: Uint8Array
  headers: MsgHdrs
  sentAt: number
  attempts: number
  cb: Callback
}

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
  private readonly inbox = createInbox()
  private readonly sub: Subscription
  private readonly pending = new Map<number, Pending>()
  private readonly window: number
  private readonly ackTimeoutMs: number
  private readonly retries: number
  private readonly waiters: Array<() => void> = []
  private readonly idleWaiters: Array<() => void> = []
  private readonly sweeper: NodeJS.Timeout
  private token = 0
  private closed = false

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjects: Subjects,
    private readonly codec = new FactCodec(),
    opts: PublisherOptions = {},
  ) {
    this.window = opts.window ?? 4096
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000
    this.retries = opts.retries ?? 5
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => (err ? undefined : this.onAck(msg)) })
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(this.ackTimeoutMs / 4)))
    this.sweeper.unref()
  }

  get inFlight(): number {
    return this.pending.size
  }

  /** Publishes one fact on its subject (scrubbed subjects for facts made by scrub). */
  publish(fact: Fact, subject?: string): Promise<PublishOutcome> {
    return new Promise((resolve) => void this.send(fact, subject, resolve))
  }

  /**
   * Publishes facts through the window; `cb` gets each outcome. Resolves once the fact is
   * in flight (so callers feel backpressure), not when it is acknowledged.
   */
  async send(fact: Fact, subject: string | undefined, cb: Callback): Promise<void> {
    const enc = this.codec.encode(fact)
    const h = natsHeaders()
    h.set(Header.MsgId, enc.id)
    h.set(Header.Schema, enc.schema)
    h.set(Header.SchemaFp, enc.fingerprint)
    await this.sendRaw(subject ?? this.subjects.forFact(fact), enc.data, h, enc.id, cb)
  }

  /** Publishes already-encoded bytes (JSON edge facts, dead letters) with the same guarantees. */
  async sendRaw(subject: string, data: Uint8Array, headers: MsgHdrs, id: string, cb: Callback): Promise<void> {
    if (this.closed) {
      cb({ id, status: 'failed', error: 'publisher is closed' })
      return
    }
    while (this.pending.size >= this.window) await new Promise<void>((r) => this.waiters.push(r))
    const token = ++this.token
    const p: Pending = { id, subject, data, headers, sentAt: performance.now(), attempts: 1, cb }
    this.pending.set(token, p)
    this.transmit(token, p)
  }

  /** Publishes every fact and reports the totals. */
  async publishAll(facts: Iterable<Fact> | AsyncIterable<Fact>, onOutcome?: Callback): Promise<PublishReport> {
    const report: PublishReport = { stored: 0, duplicate: 0, failed: 0, retried: 0, failures: [] }
    const count: Callback = (o) => {
      report[o.status]++
      if (o.status === 'failed') report.failures.push({ id: o.id, error: o.error ?? 'unknown' })
      onOutcome?.(o)
    }
    for await (const f of facts) await this.send(f, undefined, count)
    await this.flush()
    report.retried = this.retriedTotal
    return report
  }

  private retriedTotal = 0

  /** Resolves when no PubAck is outstanding. */
  flush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    clearInterval(this.sweeper)
    this.sub.unsubscribe()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private transmit(token: number, p: Pending): void {
    try {
      this.nc.publish(p.subject, p.data, { reply: `${this.inbox}.${token}`, headers: p.headers })
    } catch (err) {
      this.settle(token, p, { id: p.id, status: 'failed', error: `publish failed: ${(err as Error).message}` })
    }
  }

  private onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(this.inbox.length + 1))
    const p = this.pending.get(token)
    if (!p) return // a late answer to a retried publish: already settled
    if (msg.headers?.code === 503) {
      this.settle(token, p, { id: p.id, status: 'failed', error: `no stream listens on ${p.subject}` })
      return
    }
    const text = new TextDecoder().decode(msg.data)
    let ack: { seq?: number; duplicate?: boolean; error?: { description?: string; code?: number } }
    try {
      ack = JSON.parse(text)
    } catch {
      this.settle(token, p, { id: p.id, status: 'failed', error: `unreadable PubAck: ${text.slice(0, 120)}` })
      return
    }
    if (ack.error) {
      this.settle(token, p, { id: p.id, status: 'failed', error: `JetStream refused: ${ack.error.description ?? ack.error.code}` })
      return
    }
    const status = ack.duplicate && p.attempts === 1 ? 'duplicate' : 'stored'
    this.settle(token, p, { id: p.id, status, seq: ack.seq })
  }

  private settle(token: number, p: Pending, outcome: PublishOutcome): void {
    this.pending.delete(token)
    p.cb(outcome)
    const w = this.waiters.shift()
    if (w) w()
    if (this.pending.size === 0) for (const r of this.idleWaiters.splice(0)) r()
  }

  private sweep(): void {
    const now = performance.now()
    for (const [token, p] of this.pending) {
      if (now - p.sentAt < this.ackTimeoutMs) continue
      if (p.attempts > this.retries) {
        this.settle(token, p, { id: p.id, status: 'failed', error: `no PubAck after ${p.attempts} attempts of ${this.ackTimeoutMs} ms` })
        continue
      }
      // Re-send under a fresh token with the same Nats-Msg-Id: JetStream de-duplicates it.
      this.pending.delete(token)
      p.attempts++
      p.sentAt = now
      this.retriedTotal++
      const fresh = ++this.token
      this.pending.set(fresh, p)
      this.transmit(fresh, p)
    }
  }
}
