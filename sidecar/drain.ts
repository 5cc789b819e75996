import type { NatsConnection } from '@nats-io/nats-core'
import { FactPublisher, PublishFailure, StreamAdmin, type PublishOutcome, type Subjects } from '../streams/index.js'
import type { FactCodec } from '../schemas/index.js'
import type { Wal, WalRecord } from './wal/index.js'
import { SEQ_LINE_HEAD, sendableHeaders } from './record.js'
import { reconcileFailure, storedPrefix } from './reconcile.js'
import { DrainWindow, Entry, EntryState, entryOf } from './window.js'
import { Wakeup } from './wakeup.js'
import type { DrainOptions, DrainStats, ReconcileTarget, SidecarLogger } from './types.js'

/**
 * Drains the WAL to JetStream in order. Each fact goes out with its id as `Nats-Msg-Id`
 * through a FactPublisher (no retries of its own); the WAL is acked up to the highest seq
 * below which every fact was acknowledged. Order and exactly-once rest on four rules:
 *
 * - nothing is published while disconnected (nats.js would drop or reorder it);
 * - after a start, a disconnect or any failed publish, the drain *probes*: it resends the
 *   oldest unacknowledged fact alone and waits for its PubAck, then resends the rest in
 *   order. Facts that had landed come back `duplicate` (JetStream de-duplicates by id
 *   within its duplicate window, 2 minutes by default), so nothing is stored twice and
 *   nothing newer is stored before something older;
 * - a failure of one attempt is ignored once a newer attempt is under way (generations), and
 *   a resync gives up whatever the publisher still awaits: the publisher sends again on a
 *   reconnect what it holds, which would put younger facts ahead of older ones;
 * - before that probe, the last stored message of each of this sidecar's subjects tells which
 *   of the oldest facts already landed (reconcile.ts), which covers resuming after more than
 *   the duplicate window.
 */
export class Drainer {
  private readonly publisher: FactPublisher
  private readonly maxInFlight: number
  /** A PubAck wakes the loop once no more than this many are awaited (room for a read). */
  private readonly lowWater: number
  private readonly pubWindow: number
  private readonly ackEvery: number
  private readonly readBatch: number
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private readonly window: DrainWindow
  private readSeq: number
  private walAcked: number
  private gen = 0
  private inflight = 0
  private mode: 'flow' | 'probe' = 'probe'
  private connected: boolean
  private retryAt = 0
  private backoff: number
  private closed = false
  private readonly wakeup = new Wakeup()
  private acking: Promise<void> | undefined
  private readonly ackTimer: NodeJS.Timeout
  private readonly loop: Promise<void>
  private lastWarnAt = 0
  /** Look for already-stored facts before the next probe (at start, and after sends whose fate is unknown). */
  private needReconcile = true
  private admin: StreamAdmin | undefined
  private reconcileOff = false
  private reconcileFailures = 0
  /**
   * When the last PubAck came (ms), 0 before the first: a number field from the start, so that
   * the time written at every PubAck goes into the field's own box, not into a new one.
   */
  private lastPubAckAt = 0
  private readonly c = { stored: 0, duplicates: 0, resyncs: 0, undecodable: 0, reconciled: 0, lastError: null as string | null }

  constructor(
    private readonly wal: Wal,
    private readonly nc: NatsConnection,
    subjects: Subjects,
    codec: FactCodec,
    private readonly log: SidecarLogger | undefined,
    private readonly opts: DrainOptions = {},
    private readonly reconcileAt?: ReconcileTarget,
  ) {
    this.maxInFlight = opts.maxInFlight ?? 4096
    this.lowWater = Math.max(0, this.maxInFlight - (opts.readBatch ?? 1024))
    this.pubWindow = this.maxInFlight * 4
    this.ackEvery = opts.ackEvery ?? 4096
    this.readBatch = opts.readBatch ?? 1024
    this.retryMinMs = opts.retryMinMs ?? 100
    this.retryMaxMs = opts.retryMaxMs ?? 5000
    this.backoff = this.retryMinMs
    this.publisher = new FactPublisher(nc, subjects, codec, {
      window: this.pubWindow,
      ackTimeoutMs: opts.ackTimeoutMs ?? 5000,
      retries: 0,
      verifyDuplicates: false,
      delayTargetMs: opts.delayTargetMs,
    })
    this.window = new DrainWindow(wal.ackedSeq)
    this.walAcked = wal.ackedSeq
    this.readSeq = wal.ackedSeq + 1
    this.connected = !nc.isClosed()
    void this.watchStatus()
    this.ackTimer = setInterval(() => this.maybeAck(true), opts.ackIntervalMs ?? 100)
    this.ackTimer.unref()
    this.loop = this.run().catch((err) => {
      this.c.lastError = `drain stopped: ${(err as Error).message}`
      this.log?.error({ err: (err as Error).message }, 'sidecar drain stopped')
    })
  }

  /** New records were appended. */
  notify(): void {
    this.wake()
  }

  stats(): DrainStats {
    return {
      connected: this.connected,
      mode: this.closed ? 'stopped' : this.mode === 'flow' ? 'flowing' : 'probing',
      inFlight: this.inflight,
      routineWindow: this.publisher.routineWindow,
      stored: this.c.stored,
      duplicates: this.c.duplicates,
      resyncs: this.c.resyncs,
      deliveredSeq: this.window.floor,
      walAckedSeq: this.walAcked,
      lastPubAckAt: this.lastPubAckAt > 0 ? this.lastPubAckAt : null,
      lastError: this.c.lastError,
      undecodable: this.c.undecodable,
      reconciled: this.c.reconciled,
    }
  }

  /**
   * The oldest fact JetStream has not acknowledged yet: its seq, and when it was accepted
   * (undefined when it has not been read from the WAL yet); null when everything is delivered.
   */
  oldestPending(): { seq: number; appendedAt: number | undefined } | null {
    const e = this.window.oldest()
    if (e) return { seq: e.seq, appendedAt: e.appendedAt }
    return this.window.floor < this.wal.lastSeq ? { seq: this.window.floor + 1, appendedAt: undefined } : null
  }

  /** Stops sending, waits (at most `waitMs`) for PubAcks in flight, and acks the WAL up to what was delivered. */
  async close(waitMs = 5000): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.wakeup.stop()
    await this.loop
    clearInterval(this.ackTimer)
    const deadline = Date.now() + waitMs
    while (this.inflight > 0 && this.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await this.acking
    if (this.window.floor > this.walAcked) await this.ackWal()
    void this.publisher.close()
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false
        this.resync('disconnected from NATS', false)
      } else if (s.type === 'reconnect') {
        this.connected = true
        this.retryAt = 0
        this.wake()
      } else if (s.type === 'close') {
        this.connected = false
        this.wake()
      }
      if (this.closed) break
    }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (!this.connected) {
        await this.sleep()
        continue
      }
      if (this.mode === 'probe') {
        if (this.inflight > 0) {
          await this.sleep()
          continue
        }
        const wait = this.retryAt - Date.now()
        if (wait > 0) {
          await this.sleep(wait)
          continue
        }
        if (this.needReconcile) {
          await this.reconcile()
          continue
        }
        let probe = this.window.firstPending()
        if (!probe && (await this.readMore(1)) > 0) probe = this.window.firstPending()
        if (!probe || this.closed || this.mode !== 'probe' || !this.connected) {
          if (!probe) await this.sleep()
          continue
        }
        this.send(probe)
        await this.sleep()
        continue
      }
      // flowing: fill the window from the resend cursor, then from the WAL
      // The publisher's routine window (at most pubWindow) follows the server's delay: a send past
      // it would only wait in the publisher (sendRaw), one closure per fact.
      while (this.inflight < this.maxInFlight && this.publisher.inFlight < this.publisher.routineWindow) {
        const e = this.window.nextUnsent()
        if (!e) break
        this.send(e)
      }
      const room = Math.min(this.readBatch, this.maxInFlight - this.inflight, this.maxInFlight * 4 - this.window.size)
      if (room > 0 && !this.window.hasUnsent() && this.publisher.inFlight < this.publisher.routineWindow) {
        if ((await this.readMore(room)) > 0) continue
      }
      await this.sleep()
    }
  }

  /**
   * Reads up to `max` records after the last one read; returns how many. Records the WAL still
   * holds in memory are read where they lie (`readInPlace`: no view or record object each).
   */
  private async readMore(max: number): Promise<number> {
    const inPlace = this.wal.readInPlace?.(this.readSeq, max, this.take) ?? -1
    if (inPlace >= 0) {
      if (inPlace > 0) this.advance()
      return inPlace
    }
    const recs: WalRecord[] = await this.wal.read(this.readSeq, max)
    for (const r of recs) this.admit(entryOf(r.seq, r.appendedAt, r.data))
    if (recs.length > 0) this.advance()
    return recs.length
  }

  /** One record read in place: the record `bytes[at, end)`. */
  private readonly take = (seq: number, appendedAt: number, bytes: Buffer, at: number, end: number): void => this.admit(new Entry(seq, appendedAt, bytes, at, end))

  /** A record read: into the window. */
  private admit(e: Entry): void {
    if (e.undecodable) {
      this.c.undecodable++
      this.log?.error({ seq: e.seq, bytes: e.end - e.at }, 'WAL record is not a sidecar record; skipped (a bug, or a WAL written by something else)')
    }
    this.window.push(e)
    this.readSeq = e.seq + 1
  }

  private send(e: Entry): void {
    const gen = this.gen
    e.state = EntryState.Sent
    e.gen = gen
    e.refused = false
    this.inflight++
    // the stored header block plus the WAL seq, written straight into the outgoing frame; the
    // outcome comes back with the entry and the generation of this send (no closure per fact).
    if (!this.publisher.trySendStored(e, SEQ_LINE_HEAD, e.seq, this.onOutcome, gen))
      void this.publisher.sendRaw(e.subject, e.bytes.subarray(e.dataAt, e.end), sendableHeaders(e, e.seq), e.id, (o) => this.outcome(e, gen, o))
  }

  private readonly onOutcome = (o: PublishOutcome, e: Entry, gen: number): void => this.outcome(e, gen, o)

  private outcome(e: Entry, gen: number, o: PublishOutcome): void {
    if (e.state === EntryState.Done) return
    if (o.status === 'failed') {
      if (e.state !== EntryState.Sent || e.gen !== gen || gen !== this.gen) return // an older attempt: a newer one is under way
      // A lost PubAck may still have been stored; anything else was refused or never sent
      e.refused = o.code !== PublishFailure.Timeout
      this.resync(o.error ?? 'publish failed', true)
      return
    }
    if (e.state === EntryState.Sent && e.gen === this.gen) this.inflight--
    e.state = EntryState.Done
    if (o.status === 'duplicate') this.c.duplicates++
    else this.c.stored++
    this.lastPubAckAt = Date.now()
    let wake = this.inflight <= this.lowWater
    if (this.mode === 'probe' && gen === this.gen) {
      this.mode = 'flow'
      this.backoff = this.retryMinMs
      wake = true
    }
    this.advance()
    // The loop refills the window in bursts: woken when it has room for a read, not per PubAck.
    if (wake) this.wake()
  }

  /** Forget what is in flight: everything not acknowledged is sent again, oldest first, after a probe. */
  private resync(reason: string, backoff: boolean): void {
    if (this.inflight > 0) this.needReconcile = true
    this.gen++
    this.inflight = 0
    // The drain alone sends again, oldest first. What the publisher still awaits is forgotten
    // (not failed: it is not lost); left there, the publisher would send it again on its own at
    // the reconnect, ahead of the older facts the probe resends.
    this.publisher.forgetPending()
    this.mode = 'probe'
    this.window.rewind()
    this.c.resyncs++
    this.c.lastError = reason
    if (backoff) {
      this.retryAt = Date.now() + this.backoff
      this.backoff = Math.min(this.backoff * 2, this.retryMaxMs)
    }
    const now = Date.now()
    if (now - this.lastWarnAt > 5000) {
      this.lastWarnAt = now
      this.log?.warn({ reason, deliveredSeq: this.window.floor, pending: this.window.size }, 'sidecar drain paused; resending from the oldest unacknowledged fact')
    }
    this.wake()
  }

  /** Marks as delivered the oldest facts JetStream already holds (reconcile.ts); best effort. */
  private async reconcile(): Promise<void> {
    this.needReconcile = false
    if (!this.reconcileAt || this.opts.reconcile === false || this.reconcileOff) return
    try {
      if (this.window.size < this.maxInFlight) await this.readMore(this.maxInFlight - this.window.size)
      const pending = this.window.pending()
      if (pending.length === 0) return
      this.admin ??= await StreamAdmin.open(this.nc, { checkAPI: false, timeoutMs: 2000 })
      const n = await storedPrefix(
        this.admin,
        this.reconcileAt.stream,
        this.reconcileAt.subjects,
        pending.map((e) => ({ seq: e.seq, id: e.id, refused: e.refused })),
      )
      let found = 0
      for (let i = 0; i < n; i++) {
        const e = pending[i] // stored in JetStream, whatever happened to it meanwhile
        if (e.state === EntryState.Done) continue
        if (e.state === EntryState.Sent && e.gen === this.gen) this.inflight--
        e.state = EntryState.Done
        found++
      }
      if (found > 0) {
        this.c.reconciled += found
        this.log?.info({ found, upto: pending[n - 1].seq }, 'facts already in JetStream: not sent again')
        this.advance()
      }
      this.reconcileFailures = 0
    } catch (err) {
      const what = reconcileFailure(err)
      if (what === 'off') this.reconcileOff = true
      else if (what === 'retry' && ++this.reconcileFailures < 5) {
        this.needReconcile = true
        this.retryAt = Date.now() + this.backoff
        this.backoff = Math.min(this.backoff * 2, this.retryMaxMs)
      } else this.reconcileFailures = 0
      if (!this.needReconcile) this.log?.info({ err: (err as Error)?.message, off: this.reconcileOff }, 'cannot read the last stored facts; relying on the duplicate window')
    }
  }

  private advance(): void {
    this.window.advance()
    this.maybeAck(false)
  }

  private maybeAck(timer: boolean): void {
    const floor = this.window.floor
    if (this.acking || floor <= this.walAcked) return
    if (!timer && floor - this.walAcked < this.ackEvery) return
    this.acking = this.ackWal().finally(() => (this.acking = undefined))
  }

  private async ackWal(): Promise<void> {
    const upto = this.window.floor
    try {
      await this.wal.ack(upto)
      this.walAcked = Math.max(this.walAcked, upto)
    } catch (err) {
      this.c.lastError = `WAL ack failed: ${(err as Error).message}`
      this.log?.error({ err: (err as Error).message, upto }, 'WAL ack failed')
    }
  }

  private wake(): void {
    this.wakeup.wake()
  }

  private sleep(ms?: number): Promise<void> {
    return this.wakeup.sleep(ms)
  }
}
