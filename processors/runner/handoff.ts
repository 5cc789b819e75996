import { headers as natsHeaders } from '@nats-io/nats-core'
import { Header, type Fact, type FactCodec } from '../../schemas/index.js'
import { subjectMatches, type Envelope, type RawMessage } from '../../streams/index.js'

/**
 * The in-thread handoff of the alert path (issue 8: one hop less under a flood). Scrub's alert
 * lane and policy run in the same thread (alert-path.ts); a scrubbed alert reached policy as a
 * JetStream delivery from DERIVED, which under a routine flood waited behind the flood's stores,
 * deliveries and PubAcks in the stream's queue on the server (~120 ms at p99, measured by
 * bench/alert-trace.ts). With a handoff, once scrub has the PubAck of a scrubbed alert (it is
 * stored: committed, with its stream sequence), the fact is also handed to policy's alert lane in
 * the thread at once, as an envelope with that sequence.
 *
 * Policy applies each input once: its lane position de-duplicates whichever copy comes second
 * (the handed one or JetStream's), and the JetStream copy of a handed input is acknowledged after
 * the epoch it joins is committed (ack after commit; the handed envelope has nothing to ack).
 * A runner takes handed inputs only while its lane's consumer is caught up (see StageRunner), so
 * that a handed input is never applied ahead of an earlier one still on its way from JetStream.
 */
export class Handoff {
  private readonly takers: Taker[] = []

  /** A derived fact committed (PubAck: stored, or a duplicate of a stored one) at `seq` of `stream` (a logical stream name). */
  offer(stream: string, subject: string, fact: Fact, seq: number): void {
    for (const t of this.takers) if (t.stream === stream && subjectMatches(t.filter, subject)) t.take(fact, subject, seq)
  }

  /** Takes what is offered on `stream` under `filter`; returns the function that stops taking. */
  take(stream: string, filter: string, take: Taker['take']): () => void {
    const t: Taker = { stream, filter, take }
    this.takers.push(t)
    return () => {
      const i = this.takers.indexOf(t)
      if (i >= 0) this.takers.splice(i, 1)
    }
  }
}

interface Taker {
  readonly stream: string
  readonly filter: string
  take(fact: Fact, subject: string, seq: number): void
}

/** An input handed over in the thread: the fact and its stream sequence; nothing to settle with the server. */
export class HandedEnvelope implements Envelope {
  readonly redelivered = false
  readonly pending = 0
  readonly deadLettered = false
  readonly skipped = false
  readonly storedAt = Date.now()
  private rawCache: RawMessage | undefined

  constructor(
    readonly fact: Fact,
    readonly subject: string,
    readonly seq: number,
    private readonly stream: string,
    private readonly codec: FactCodec,
  ) {}

  /** The bytes as stored (the same encoding the publisher wrote), for a dead letter. */
  get raw(): RawMessage {
    if (this.rawCache) return this.rawCache
    const e = this.codec.encode(this.fact)
    const headers = natsHeaders()
    headers.set(Header.Schema, e.schema)
    headers.set(Header.SchemaFp, e.fingerprint)
    return (this.rawCache = { stream: this.stream, subject: this.subject, seq: this.seq, data: e.data, headers, fingerprint: e.fingerprint })
  }

  ack(): void {}
  nak(): void {}
  working(): void {}
  release(): void {}
}

/**
 * One urgent lane's side of the handoff: whether it may take handed inputs now, and which handed
 * inputs' JetStream copies are still to come (to be acknowledged after commit, not applied again).
 */
export class HandoffGate {
  /** The lane's consumer is caught up: its last delivery had nothing pending behind it. */
  open = false
  /** Handed inputs (stream sequences) whose JetStream copy has not come yet. */
  private readonly handed = new Set<number>()
  /** Deliveries that came after a later handed input had been applied (see `late`). */
  lateInputs = 0

  /** A JetStream delivery of the lane (before it is queued). */
  delivered(env: Envelope): void {
    this.open = env.pending === 0
  }

  /** Whether a handed input at `seq` is taken, the lane being at `position`. */
  accepts(seq: number, position: number): boolean {
    if (!this.open || seq <= position) return false
    this.handed.add(seq)
    return true
  }

  /** True for the JetStream copy of a handed input (and forgets it). */
  copyOf(env: Envelope): boolean {
    if (env instanceof HandedEnvelope || !this.handed.delete(env.seq)) return false
    // Copies come in order: any earlier one still listed will not come (the lane is past it).
    for (const s of this.handed) if (s < env.seq) this.handed.delete(s)
    return true
  }

  /**
   * True for a first delivery from JetStream that is neither applied nor handed, at or below the
   * lane's position: an input stored before a handed one (by another writer of the lane's
   * subjects) that the handed one overtook. It is applied now, late, rather than lost; the gate
   * closes until the consumer is caught up again, and it is logged and counted.
   */
  late(env: Envelope, log: { warn(o: object, m?: string): void } | undefined, stage: string): boolean {
    if (env instanceof HandedEnvelope || env.redelivered || this.handed.has(env.seq)) return false
    this.open = false
    this.lateInputs++
    log?.warn({ stage, seq: env.seq, subject: env.subject }, `stage ${stage}: an input handed over in the thread overtook seq ${env.seq} (stored by another writer); applied late`)
    return true
  }
}
