import type { NatsConnection } from '@nats-io/nats-core'
import type { Subscription } from 'rxjs'
import { Counter } from 'prom-client'
import type { Fact, FactCodec } from '../../schemas/index.js'
import {
  consumeFacts,
  factMsgId,
  metrics,
  metricsRegistry,
  partitionLabel,
  partitionOfSubject,
  lastSeq,
  repositionDurable,
  storedMsgIds,
  StreamAdmin,
  streamName,
  type DeadLetters,
  type Partition,
  type Envelope,
  type FactPublisher,
  type Logger,
  type PublishOutcome,
  type StreamName,
  type TopologyOptions,
} from '../../streams/index.js'
import { stageFeed, type Stage, type StageFeed } from '../stage.js'
import { ChunkWriter, FrameReader } from './binary.js'
import { chunked, type CheckpointStore, type CheckpointHead, type Segment, type StoredCheckpoint } from './checkpoint.js'
import type { ConfigSource } from './config-source.js'
import type { AlertLink } from './alert-link.js'
import { alertTraceOn, traceAlert } from './alert-trace.js'
import { AckRun, BATCH_MAX, LaneQueue } from './batch.js'
import { FairRound } from './fair.js'

/** One input lane of a stage. Lanes are listed highest priority first. */
export interface LaneInput {
  readonly lane: string
  readonly stream: StreamName
  readonly filterSubject: string
  /** Subjects of this filter that a higher lane of the same stage reads: passed over here. */
  readonly exclude?: string
  /**
   * Lanes this one replaced (their durables are deleted; a checkpoint without this lane
   * resumes it at the lowest of their positions: what lies between is applied again and
   * re-derives the same ids).
   */
  readonly replaces?: readonly string[]
  /**
   * The alert lane's promise: an input of this lane is applied as soon as it arrives — also while
   * the loop waits (a yield, a full publisher window, a checkpoint) — and it is consumed, and its
   * derived facts published, through `RunnerDeps.alert` (a connection of its own) when given.
   */
  readonly urgent?: boolean
  /**
   * Sources are served fairly inside this lane (fair.ts): a stage whose state is per source may
   * apply one source's inputs ahead of another's earlier ones (each source's in order), so a
   * quiet source's fact does not wait behind another source's burst. Never for an urgent lane.
   */
  readonly fair?: boolean
}

export interface StageRunnerOptions<S, C, In extends Fact> {
  readonly stage: Stage<S, C, In>
  readonly inputs: readonly LaneInput[]
  readonly config: ConfigSource<C>
  /** Where each derived fact is published. */
  subjectFor(out: Fact): string
  /**
   * The stream and subjects this stage publishes to. Given, a restart does not publish again
   * what it re-derives and finds already stored after its checkpoint, or at all when it has no
   * checkpoint yet (by fact id, however long ago: JetStream's duplicate window is not relied on).
   */
  readonly output?: { readonly stream: StreamName; readonly filterSubject: string }
  /** Checkpoint after this many inputs or this long, whichever first. Default 2,000 / 1 s. */
  readonly checkpointEvery?: { readonly inputs?: number; readonly ms?: number }
  /** Consumer name prefix (tests run several Bens on one server). Default `stage-`. */
  readonly durablePrefix?: string
  /**
   * The partition of the input this runner owns (default: all of it). Messages of other
   * partitions (by the last subject token: the source) are passed over without being decoded;
   * each partition has its own durables and checkpoint.
   */
  readonly partition?: Partition
  /**
   * Another checkpoint that also holds positions of these lanes (the stage's urgent lanes run
   * split off in their own runner, or ran whole before): each of them resumes at the later of the
   * two positions (issue 8, the alert path).
   */
  readonly alsoAt?: { readonly store: CheckpointStore; readonly lanes: readonly string[] }
  readonly log?: Logger
}

export interface RunnerDeps {
  readonly nc: NatsConnection
  readonly codec: FactCodec
  readonly topo: Pick<TopologyOptions, 'streamPrefix' | 'subjects'>
  readonly publisher: FactPublisher
  readonly dlq: DeadLetters
  readonly checkpoints: CheckpointStore
  /** The alert link (alert-link.ts): urgent lanes consume and publish through it. Default: `nc` and `publisher`. */
  readonly alert?: AlertLink
}

export interface RunnerStats {
  applied: number
  skipped: number
  derived: number
  rejected: number
  checkpoints: number
  failedPublishes: number
  /** The last checkpoint: bytes written, records in it (journal stages), ms to snapshot (synchronous) and to store, bytes the store retains. */
  lastCheckpoint: { bytes: number; records: number; snapshotMs: number; storeMs: number; retainedBytes: number }
  /** Checkpoint bytes written since start. */
  checkpointBytes: number
  /** Ms the last start took to read and restore the checkpoint. */
  restoreMs: number
  /** Re-derived outputs found already stored after the checkpoint (not published again). */
  storedBefore: number
}

const checkpointBytes = new Counter({
  name: 'ben_checkpoint_bytes_total',
  help: 'Bytes of checkpoint segments written, by stage (incremental stages write what changed)',
  labelNames: ['stage'] as const,
  registers: [metricsRegistry],
})

/**
 * Wires a pure stage to JetStream with DESIGN.md's guarantees:
 *
 * - **Ack after commit.** Derived facts are published through the acknowledged publisher; an
 *   input is acked only after a checkpoint that covers it, which is written only once every
 *   fact derived from the inputs it covers has its PubAck. A crash re-delivers; re-derived
 *   facts carry the same ids and JetStream de-duplicates them. Checkpoints are pipelined:
 *   the state is snapshotted synchronously (an epoch is sealed), and the stage goes on with the
 *   next inputs while the sealed epoch's PubAcks arrive and its checkpoint is written.
 * - **State is checkpointed with its position.** The checkpoint holds the stage state and, per
 *   lane, the stream sequence of the last input folded into it. On start the durable
 *   consumers are re-created at those positions + 1, so a restart neither loses nor
 *   double-counts: the output equals an uninterrupted run's.
 * - **Priority lanes.** Lanes are drained highest first: buffered alert-lane inputs are
 *   processed before anomaly-lane ones. The loop yields to I/O every few milliseconds of work,
 *   so a lower lane's backlog (or another stage's in the same process) never holds an alert that
 *   has arrived for longer than that; after a yield the highest lane is taken first again.
 * - **Bad input never stops the stage.** A rejected input goes to `ben.dlq.<stage>` with the
 *   reason and its original bytes.
 */
export class StageRunner<S, C, In extends Fact> {
  readonly stats: RunnerStats = {
    applied: 0,
    skipped: 0,
    derived: 0,
    rejected: 0,
    checkpoints: 0,
    failedPublishes: 0,
    lastCheckpoint: { bytes: 0, records: 0, snapshotMs: 0, storeMs: 0, retainedBytes: 0 },
    checkpointBytes: 0,
    restoreMs: 0,
    storedBefore: 0,
  }
  /** Number of the last checkpoint segment written or read. */
  private seq = 0
  /** `reason\u0000source` already logged (one line per source and reason). */
  private readonly told = new Set<string>()
  /** The stage operator (`runStage`, the one the marble tests run), fed one input at a time; its state is checkpointed. */
  private feed!: StageFeed<S, In>
  private positions: Record<string, number> = {}
  private readonly queues: LaneQueue[]
  private readonly subs: Subscription[] = []
  private epoch: Epoch = newEpoch()
  private sealed = 0
  private commits: Promise<void> = Promise.resolve()
  private lastCheckpoint = 0
  private running = false
  private stopped = false
  private looping: Promise<void> | undefined
  private failure: Error | undefined
  private failedNow: () => void = () => undefined
  /** Resolves when the runner fails. */
  private readonly failed$ = new Promise<void>((r) => (this.failedNow = r))
  private timer: NodeJS.Timeout | undefined
  private behindSince = 0
  private readonly behindGauge: { set(v: number): void }
  private readonly everyInputs: number
  private readonly everyMs: number
  /**
   * The time-based checkpoint interval: `everyMs`, stretched so that taking the snapshot (it is
   * synchronous: every input waits meanwhile) uses at most 1 % of the time — a large state is
   * not serialised every second for a trickle of inputs. Never more than MAX_CHECKPOINT_MS.
   */
  private checkpointMs: number
  /** Highest output stream sequence acknowledged so far (or the stream's last at start). */
  private outSeq = 0
  /** Message ids of outputs stored after the checkpoint this runner started from: not published again. */
  private stored = new Set<string>()

  constructor(
    private readonly opts: StageRunnerOptions<S, C, In>,
    private readonly deps: RunnerDeps,
  ) {
    this.queues = opts.inputs.map(() => new LaneQueue())
    this.rounds = opts.inputs.map((l) => (l.fair && !l.urgent ? new FairRound(ROUND_MAX) : undefined))
    this.roomWaiters = opts.inputs.map(() => [])
    this.urgentLanes = opts.inputs.flatMap((l, i) => (l.urgent ? [i] : []))
    this.outCounter = metrics.tally(metrics.factsOut, { stage: opts.stage.name })
    this.behindGauge = metrics.behindSeconds.labels({ stage: opts.stage.name })
    this.everyInputs = opts.checkpointEvery?.inputs ?? 5000
    this.everyMs = opts.checkpointEvery?.ms ?? 1000
    this.checkpointMs = this.everyMs
  }

  get name(): string {
    return this.opts.stage.name
  }

  async start(): Promise<void> {
    const { stage, inputs } = this.opts
    const t0 = Date.now()
    const cp = await this.deps.checkpoints.open()
    if (cp) this.seq = cp.seq
    let initial: S
    if (cp && cp.version === stage.version) {
      initial = await this.restore(cp)
      this.positions = { ...cp.positions }
      this.stats.applied = cp.applied
      if (this.opts.output && cp.outputSeq !== undefined) await this.readStored(cp.outputSeq)
      this.stats.restoreMs = Date.now() - t0
    } else {
      if (cp) this.opts.log?.warn({ stage: stage.name, from: cp.version, to: stage.version }, 'checkpoint from another stage version: starting from scratch')
      initial = stage.initialState()
      this.positions = {}
      // No checkpoint (killed before its first one was committed): everything it stored is
      // re-derived from the start. (Another version derives other ids: nothing to find.)
      if (this.opts.output && !cp) await this.readStored(0)
    }
    if (this.opts.alsoAt) await this.resumeLater(this.opts.alsoAt)
    if (this.opts.output) {
      // Everything this runner publishes is stored after what the stream holds now.
      this.outSeq = Math.max(this.outSeq, await lastSeq(this.deps.nc, streamName(this.deps.topo, this.opts.output.stream)))
    }
    this.feed = stageFeed(stage, () => this.opts.config.get(), initial)
    // Up to three epochs of inputs can be un-acked at once (one open, two committing).
    const maxAckPending = this.everyInputs * 4
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]
      const stream = streamName(this.deps.topo, input.stream)
      const durable = stageDurable(this.opts.durablePrefix, stage.name, input.lane, this.opts.partition)
      if (input.replaces?.length) await this.retire(stream, input)
      // Re-position the durable at the checkpoint: everything after it is applied again.
      await repositionDurable(
        this.deps.nc,
        { stream, durable, filterSubject: input.filterSubject, maxAckPending, ackWaitMs: 30_000, ackAll: true },
        this.positions[input.lane] ?? 0,
      )
      const sub = consumeFacts(input.urgent ? (this.deps.alert?.nc ?? this.deps.nc) : this.deps.nc, this.deps.codec, this.deps.topo.subjects, {
        stream,
        durable,
        filterSubject: input.filterSubject,
        exclude: input.exclude,
        skip: this.skip(),
        stage: stage.name,
        maxAckPending,
        ackAll: true,
        batch: input.urgent ? URGENT_BATCH : 1000,
        ...(input.urgent ? { sliceMs: 0 } : { ready: () => this.room(i) }),
        // A fair lane decodes an input when it is applied: a quiet source's fact is not decoded after the rest of another source's burst.
        lazy: this.rounds[i] !== undefined,
        dlq: this.deps.dlq,
        log: this.opts.log,
      }).subscribe({
        next: (env) => {
          this.queues[i].push(env)
          if (input.urgent && alertTraceOn && !env.deadLettered) {
            traceAlert('stored', stage.name, env.fact, env.storedAt)
            traceAlert('delivered', stage.name, env.fact)
          }
          if (input.urgent) this.urgentArrived()
          else this.kick()
        },
        error: (err) => this.fail(err as Error),
        // A consumer that ends while the runner runs is a failure: the supervisor restarts it.
        complete: () => void (this.stopped || this.fail(new Error(`the ${input.lane} consumer ended`))),
      })
      this.subs.push(sub)
    }
    this.lastCheckpoint = Date.now()
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.floor(this.everyMs / 2)))
    this.timer.unref()
  }

  /** Moves `lanes` to the other checkpoint's positions where they are later (same stage version only). */
  private async resumeLater(other: NonNullable<StageRunnerOptions<S, C, In>['alsoAt']>): Promise<void> {
    const cp = await other.store.open()
    if (!cp || cp.version !== this.opts.stage.version) return
    for (const lane of other.lanes) {
      const at = cp.positions[lane]
      if (at !== undefined && at > (this.positions[lane] ?? 0)) this.positions[lane] = at
    }
  }

  /** The state of a stored checkpoint: the journal's segments replayed, or the JSON value. */
  private async restore(cp: StoredCheckpoint): Promise<S> {
    const { stage } = this.opts
    if (cp.kind === 'json') return stage.deserialize ? stage.deserialize(cp.state) : (cp.state as S)
    if (!stage.journal) throw new Error(`checkpoint of ${stage.name} is a log of segments but the stage has no journal`)
    const rs = stage.journal.restore()
    let seg = -1
    const frames = new FrameReader((f) => rs.frame(seg, f))
    await cp.replay((seq, chunk) => {
      if (seq !== seg) {
        if (!frames.complete) throw new Error(`checkpoint of ${stage.name}: segment ${seg} ends inside a frame`)
        seg = seq
      }
      frames.push(chunk)
    })
    if (!frames.complete) throw new Error(`checkpoint of ${stage.name}: segment ${seg} ends inside a frame`)
    return rs.finish()
  }

  /**
   * Reads the ids of this stage's outputs stored after `after` (the output sequence saved with
   * the checkpoint: everything derived from inputs after the checkpoint is stored above it).
   * Those are the outputs a restart re-derives; they are not published again.
   */
  private async readStored(after: number): Promise<void> {
    const out = this.opts.output!
    const stream = streamName(this.deps.topo, out.stream)
    await storedMsgIds(this.deps.nc, stream, out.filterSubject, after, (id, seq) => {
      if (id) this.stored.add(id)
      if (seq > this.outSeq) this.outSeq = seq
    })
    if (this.stored.size) this.opts.log?.info({ stage: this.name, stored: this.stored.size, after }, 'outputs stored after the checkpoint: re-derived, not published again')
  }

  /** Moves the positions of the lanes `input` replaced to it, and deletes their durables. */
  private async retire(stream: string, input: LaneInput): Promise<void> {
    const old = (input.replaces ?? []).filter((l) => this.positions[l] !== undefined)
    if (this.positions[input.lane] === undefined && old.length) {
      this.positions[input.lane] = Math.min(...old.map((l) => this.positions[l]))
      this.opts.log?.info({ stage: this.name, lane: input.lane, from: old, at: this.positions[input.lane] }, 'lanes merged: resuming at the lowest of their positions')
    }
    for (const l of input.replaces ?? []) {
      delete this.positions[l]
      await (await StreamAdmin.open(this.deps.nc))
        .deleteConsumer(stream, stageDurable(this.opts.durablePrefix, this.opts.stage.name, l, this.opts.partition))
        .catch(() => undefined)
    }
  }

  /** Passes over the messages of other partitions. */
  private skip(): ((subject: string) => boolean) | undefined {
    const p = this.opts.partition
    if (!p || p.count <= 1) return undefined
    const { index, count } = p
    return (subject) => partitionOfSubject(subject, count) !== index
  }

  /** Stops consuming, finishes the inputs in hand, writes a final checkpoint, acks. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const s of this.subs) s.unsubscribe()
    this.makeRoom(true)
    if (this.timer) clearInterval(this.timer)
    await this.looping
    if (!this.failure && this.epoch.inputs > 0) this.seal()
    await this.commits.catch((err) => this.opts.log?.error({ stage: this.name, err: (err as Error).message }, 'final checkpoint failed'))
    this.feed?.close()
    this.opts.config.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /**
   * Stops at once, as a crash would: no final checkpoint, nothing more acked. Inputs since the
   * last checkpoint are delivered again to the next runner, which re-derives the same facts.
   */
  abort(): void {
    this.stopped = true
    // Not logged: whoever aborts says why (the supervisor, once per change of state).
    this.fail(new Error('aborted'), false)
    if (this.timer) clearInterval(this.timer)
  }

  /**
   * Runs the loop if it is not running (scheduled, see below). A wake-up cannot be lost: `running`
   * is set before the loop is scheduled, the loop re-reads the queues after every await, and when
   * it ends the queues are read once more (synchronously, after `running` is cleared) so that an
   * envelope pushed while the loop was finishing its last await is picked up at once instead of
   * waiting for the next push or a redelivery.
   */
  private kick(now = false): void {
    if (this.running || this.failure) return
    this.running = true
    // The loop starts after the I/O at hand: every message of the socket read that woke it is
    // queued by then, and their derived facts leave in one socket write (nats.js flushes once per
    // microtask turn: a loop run per message costs a write syscall per derived fact). An urgent
    // input (`now`) starts it at once, ahead of the other stages' slices and reads.
    this.looping = (
      now
        ? Promise.resolve()
        : new Promise<void>((r) => {
            setImmediate(r)
            this.unpark = r
          })
    )
      .then(() => this.loop())
      .catch((err) => this.fail(err as Error))
      .finally(() => {
        this.running = false
        if (!this.stopped && !this.failure && this.hasQueued()) this.kick()
      })
  }

  /** The timer: checkpoints a quiet stage (and picks up anything queued, should it be). */
  private tick(): void {
    this.watchLag()
    if (this.running) return
    if (this.hasQueued() || (this.epoch.inputs > 0 && Date.now() - this.lastCheckpoint >= this.checkpointMs)) this.kick()
  }

  /**
   * How far behind the stage is: the age of the oldest input received and not applied yet. More
   * than BEHIND_MS logs a warning once; getting back under CAUGHT_UP_MS logs once that it caught up.
   */
  private watchLag(): void {
    let oldest = Infinity
    for (const q of this.queues) if (q.length) oldest = Math.min(oldest, q.peek()!.storedAt)
    for (const r of this.rounds) if (r?.pending) oldest = Math.min(oldest, r.oldest())
    const now = Date.now()
    const ms = oldest === Infinity ? 0 : Math.max(0, now - oldest)
    this.behindGauge.set(ms / 1000)
    if (!this.behindSince && ms > BEHIND_MS) {
      this.behindSince = now - ms
      this.opts.log?.warn({ stage: this.name, behindMs: ms, queued: this.queued() }, `stage ${this.name} is more than ${BEHIND_MS / 1000} s behind its input`)
    } else if (this.behindSince && ms < CAUGHT_UP_MS) {
      this.opts.log?.info({ stage: this.name, behindForMs: now - this.behindSince }, `stage ${this.name} caught up`)
      this.behindSince = 0
    }
  }

  /** Inputs received and not applied yet (queued, waiting in a fair round, or in the batch being applied). */
  get backlog(): number {
    return this.queued() + (this.failure ? 0 : this.inHand)
  }

  /** Inputs of the batch the loop is applying that it has not applied yet (taken from a queue or round). */
  private inHand = 0

  private queued(): number {
    let n = 0
    for (const q of this.queues) n += q.length
    for (const r of this.rounds) n += r?.pending ?? 0
    return n
  }

  private hasQueued(): boolean {
    for (const q of this.queues) if (q.length) return true
    return this.inRound()
  }

  /** A fair lane's round has inputs not applied yet: no epoch may be sealed (fair.ts). */
  private inRound(): boolean {
    for (const r of this.rounds) if (r?.pending) return true
    return false
  }

  private async loop(): Promise<void> {
    // Every stage, projector and consumer of a process shares its event loop: a long run of
    // inputs applied without an await would hold back everything else (another stage's alert
    // lane, PubAcks, deliveries). The loop yields to I/O after SLICE_MS of work; what arrived
    // meanwhile is then taken highest lane first.
    let sliceStart = performance.now()
    for (;;) {
      if (this.failure) return
      if (performance.now() - sliceStart >= SLICE_MS) {
        await this.park(yieldToIo())
        sliceStart = performance.now()
        continue
      }
      const next = this.nextBatch()
      if (!next) {
        if (this.epoch.inputs > 0 && Date.now() - this.lastCheckpoint >= this.checkpointMs) {
          await this.park(this.checkpoint())
          // Inputs may have arrived during that await: go round again.
          continue
        }
        return
      }
      // A batch of one lane is stepped in one go: its derived facts leave in one socket write.
      // A batch of an urgent lane is not parked: `park` would apply the lane's later inputs ahead
      // of this batch's rest, out of order.
      const hold = next.urgent ? (p: Promise<void>) => p : (p: Promise<void>) => this.park(p)
      this.inHand = next.envs.length
      for (const env of next.envs) {
        if (this.failure) return
        this.inHand--
        const wait = this.apply(env, next.lane, next.fair)
        if (wait) await hold(wait)
        if (!next.fair && this.epoch.inputs >= this.everyInputs && !this.inRound()) await hold(this.checkpoint())
      }
      // A fair batch is applied whole before a seal, and only at the end of its round (fair.ts).
      if (next.fair && this.epoch.inputs >= this.everyInputs && !this.inRound()) await hold(this.checkpoint())
    }
  }

  /**
   * An urgent input arrived: the loop starts at once if it is not running; if it is waiting (see
   * `park`), the input is applied now. The loop is never inside `apply` when this runs (one thread:
   * deliveries come between its awaits).
   */
  private urgentArrived(): void {
    if (!this.running) this.kick(true)
    else this.unpark?.()
  }

  /** Resolves the wait in `park` when an urgent input arrives. */
  private unpark: (() => void) | undefined

  /**
   * Awaits `p` (a yield, the publisher's window, a checkpoint commit) but applies urgent inputs
   * that arrive meanwhile, at once: an alert does not wait for the routine lane's window or
   * checkpoint. Applying between two inputs is what the loop does anyway; an urgent input applied
   * while a routine input's outputs wait for the window is stored before them (another connection,
   * another subject; restart dedupe holds: anything published after a seal is stored above it).
   */
  private async park(p: Promise<void>): Promise<void> {
    if (!this.urgentLanes.length) return p
    let done = false
    const settled = p.then(() => void (done = true))
    // Handled here (awaited below): a rejection while an urgent input is applied is not unhandled.
    settled.catch(() => undefined)
    for (;;) {
      if (!this.hasUrgent()) {
        await Promise.race([settled, new Promise<void>((r) => (this.unpark = r))])
        this.unpark = undefined
      }
      if (done) return
      for (const i of this.urgentLanes) {
        const q = this.queues[i]
        const lane = this.opts.inputs[i].lane
        while (q.length && !this.stopped && !this.failure) {
          for (const env of q.take(BATCH_MAX)) {
            const wait = this.apply(env, lane)
            if (wait) await wait
          }
        }
      }
      if (this.stopped || this.failure) return settled
    }
  }

  /**
   * Flow control of a routine lane's consumer (consumeFacts' `ready`): with QUEUE_HIGH inputs of
   * the lane queued, the consumer waits until the loop has taken it below QUEUE_LOW.
   */
  private room(i: number): Promise<void> | undefined {
    if (this.queues[i].length < QUEUE_HIGH || this.stopped || this.failure) return undefined
    return new Promise((r) => this.roomWaiters[i].push(r))
  }

  private readonly roomWaiters: Array<Array<() => void>>

  /** Lets the consumers of lanes whose queue went below QUEUE_LOW (all of them: `all`) go on. */
  private makeRoom(all = false): void {
    for (let i = 0; i < this.roomWaiters.length; i++) {
      const w = this.roomWaiters[i]
      if (w.length && (all || this.queues[i].length < QUEUE_LOW)) for (const r of w.splice(0)) r()
    }
  }

  /** Indexes of the urgent lanes. */
  private readonly urgentLanes: number[]

  private hasUrgent(): boolean {
    if (this.stopped || this.failure) return false
    for (const i of this.urgentLanes) if (this.queues[i].length) return true
    return false
  }

  /**
   * Up to BATCH_MAX inputs of the highest lane that has any; of a fair lane, the next FAIR_STEP of
   * its round. Stopping, nothing more is taken, but an open round is finished (the final checkpoint
   * must cover a prefix of each lane).
   */
  private nextBatch(): { envs: Envelope[]; lane: string; urgent: boolean; fair: boolean } | undefined {
    for (let i = 0; i < this.queues.length; i++) {
      const q = this.queues[i]
      const { lane, urgent } = this.opts.inputs[i]
      const round = this.rounds[i]
      if (round) {
        if (!this.stopped) round.fill(q, this.positions[lane] ?? 0, this.again)
        if (round.pending) {
          this.makeRoom()
          return { envs: round.take(FAIR_STEP), lane, urgent: false, fair: true }
        }
      } else if (q.length && !this.stopped) {
        const envs = q.take(BATCH_MAX)
        this.makeRoom()
        return { envs, lane, urgent: urgent === true, fair: false }
      }
    }
    return undefined
  }

  /** The fair rounds of the lanes that have one (fair.ts). */
  private readonly rounds: Array<FairRound | undefined>

  /** A redelivery of an input already folded into the state (or already in a fair round). */
  private readonly again = (env: Envelope): void => {
    env.ack()
    this.stats.skipped++
  }

  /**
   * Applies one input; returns a promise only when the publisher's window is full. `fair`: an input
   * of a fair round, checked for redelivery when it joined the round (it may come after a later
   * input of another source).
   */
  private apply(env: Envelope, lane: string, fair = false): Promise<void> | undefined {
    const last = this.positions[lane] ?? 0
    if (!fair && env.seq <= last) {
      // Already folded into the state (a redelivery of something checkpointed).
      this.again(env)
      return
    }
    const epoch = this.epoch
    if (env.seq > last) this.positions[lane] = env.seq
    epoch.inputs++
    epoch.toAck.add(lane, env)
    this.stats.applied++
    // Dead-lettered by the consumer (it did not decode): only its place in the order counts.
    if (env.deadLettered || env.skipped) return
    // Did not decode (a lazy lane's input): dead-lettered like a rejected input, before its ack.
    const refused = env.refused
    const result = refused ? { out: [], rejected: refused } : this.feed.push(env.fact)
    if (!result) return
    if (result.rejected) {
      this.stats.rejected++
      this.tell(result.rejected, env.fact?.source)
      const r = env.raw
      epoch.outstanding++
      void this.deps.dlq.send({ subject: r.subject, headers: r.headers, data: r.data, stream: r.stream, seq: r.seq }, result.rejected).then((ok) => {
        if (!ok) this.fail(new Error(`could not store a dead letter for ${env.fact.id}`))
        settle(epoch)
      })
    }
    if (result.out.length === 0) return undefined
    const cb = (o: PublishOutcome) => {
      if (o.status === 'failed') {
        this.stats.failedPublishes++
        this.fail(new Error(`derived fact ${o.id} was not stored: ${o.error}`))
      } else {
        this.outCounter.inc()
        if (o.seq !== undefined && o.seq > this.outSeq) this.outSeq = o.seq
      }
      settle(epoch)
    }
    let out = result.out
    if (this.stored.size) {
      out = out.filter((f) => !this.stored.delete(factMsgId(f)))
      this.stats.storedBefore += result.out.length - out.length
      if (out.length === 0) return undefined
    }
    // Outputs of an urgent input leave through the alert link: never behind queued routine outputs.
    const publisher = this.deps.alert && this.urgentLanes.length && this.isUrgent(lane) ? this.deps.alert.publisher : this.deps.publisher
    if (alertTraceOn && this.isUrgent(lane)) return this.applyTraced(env.fact, publisher, out, cb, epoch)
    for (let i = 0; i < out.length; i++) {
      const f = out[i]
      epoch.outstanding++
      this.stats.derived++
      const subject = this.opts.subjectFor(f)
      if (!publisher.trySend(f, subject, cb, this)) return this.sendRest(publisher, out, i, cb, epoch)
    }
    return undefined
  }

  /** `apply`'s publishing of an urgent input's outputs with BEN_ALERT_TRACE on: each publish and PubAck traced. */
  private applyTraced(input: Fact, publisher: FactPublisher, out: readonly Fact[], cb: (o: PublishOutcome) => void, epoch: Epoch): Promise<void> | undefined {
    const name = this.opts.stage.name
    const traced = (o: PublishOutcome) => {
      traceAlert('puback', name, input)
      cb(o)
    }
    for (let i = 0; i < out.length; i++) {
      const f = out[i]
      epoch.outstanding++
      this.stats.derived++
      traceAlert('published', name, input)
      if (!publisher.trySend(f, this.opts.subjectFor(f), traced, this)) return this.sendRest(publisher, out, i, traced, epoch)
    }
    return undefined
  }

  private isUrgent(lane: string): boolean {
    for (const i of this.urgentLanes) if (this.opts.inputs[i].lane === lane) return true
    return false
  }

  private async sendRest(publisher: FactPublisher, out: readonly Fact[], from: number, cb: (o: PublishOutcome) => void, epoch: Epoch): Promise<void> {
    await publisher.send(out[from], this.opts.subjectFor(out[from]), cb, this)
    for (let i = from + 1; i < out.length; i++) {
      epoch.outstanding++
      this.stats.derived++
      await publisher.send(out[i], this.opts.subjectFor(out[i]), cb, this)
    }
  }

  private readonly outCounter: { inc(): void }

  /** Logs the first refusal of each reason per source (every one is counted and dead-lettered). */
  private tell(r: { reason: string; message: string }, source: unknown): void {
    const log = this.opts.log
    if (!log || typeof source !== 'string') return
    const k = `${r.reason}\u0000${source}`
    if (this.told.has(k) || this.told.size >= TOLD_MAX) return
    this.told.add(k)
    log.warn({ stage: this.name, reason: r.reason, source }, `${r.message} (logged once per source and reason; every refusal goes to ben.dlq.${this.name})`)
  }

  /** Seals the epoch (snapshot now) and commits it in the background; waits if two are already committing. */
  private async checkpoint(): Promise<void> {
    if (this.sealed >= 2) await this.commits
    if (this.epoch.inputs > 0) this.seal()
  }

  private seal(): void {
    const { stage } = this.opts
    const epoch = this.epoch
    this.epoch = newEpoch()
    const t0 = Date.now()
    this.lastCheckpoint = t0
    const p0 = performance.now()
    // Snapshot now: the state object goes on changing while this epoch commits.
    const head: CheckpointHead = {
      stage: stage.name,
      version: stage.version,
      positions: { ...this.positions },
      applied: this.stats.applied,
      ...(this.opts.output ? { outputSeq: this.outSeq } : {}),
    }
    const seq = ++this.seq
    let segment: Segment
    let records = 0
    if (stage.journal) {
      const w = new ChunkWriter()
      const plan = stage.journal.write(this.feed.state, seq, w)
      records = plan.records
      segment = { seq, kind: 'log', chunks: w.finish(), keepFrom: plan.keepFrom, keep: plan.keep }
    } else {
      const body = JSON.stringify({ ...head, state: stage.serialize ? stage.serialize(this.feed.state) : this.feed.state })
      segment = { seq, kind: 'json', chunks: chunked(Buffer.from(body, 'utf8')), keepFrom: seq }
    }
    const snapshotMs = Date.now() - t0
    // The time-based interval stretches so that taking snapshots costs at most 1 % of the time.
    this.checkpointMs = Math.min(Math.max(this.everyMs, MAX_CHECKPOINT_MS), Math.max(this.everyMs, Math.round(100 * (performance.now() - p0))))
    this.sealed++
    this.commits = this.commits.then(async () => {
      try {
        // A failed runner forgot its outputs in flight (`fail`): their epochs never settle.
        await Promise.race([settled(epoch), this.failed$])
        if (this.failure) return
        const t1 = Date.now()
        const saved = await this.deps.checkpoints.append(head, segment)
        this.stats.lastCheckpoint = { bytes: saved.bytes, records, snapshotMs, storeMs: Date.now() - t1, retainedBytes: saved.retained }
        this.stats.checkpointBytes += saved.bytes
        checkpointBytes.inc({ stage: stage.name }, saved.bytes)
        // One ack per lane: each lane's consumer is ack-all and its inputs are in order.
        epoch.toAck.ack()
        this.stats.checkpoints++
      } catch (err) {
        this.fail(err as Error)
      } finally {
        this.sealed--
      }
    })
  }

  private fail(err: Error, say = true): void {
    if (this.failure) return
    this.failure = err
    // Its outputs still awaiting a PubAck are re-derived on the restart, in order, after what the
    // stream holds: the publisher (shared with other stages) must not send them again on its own,
    // or a reconnect would store younger outputs ahead of an older one that failed.
    this.deps.publisher.forgetPending(this)
    this.deps.alert?.publisher.forgetPending(this)
    this.failedNow()
    this.makeRoom(true)
    if (say) this.opts.log?.error({ stage: this.name, err: err.message }, 'stage runner stopped: it resumes from its last checkpoint on restart')
    for (const s of this.subs) s.unsubscribe()
  }

  get failed(): Error | undefined {
    return this.failure
  }
}

/** Sources × reasons remembered for log-once (past it, refusals are only counted). */
const TOLD_MAX = 10_000

/** The durable consumer of one lane of one partition of a stage: `stage-detect-metric`, `stage-detect-metric-p1of4`. */
export function stageDurable(prefix: string | undefined, stage: string, lane: string, partition?: Partition): string {
  const p = partition ? partitionLabel(partition) : ''
  return `${prefix ?? 'stage-'}${stage}-${lane}${p ? `-${p}` : ''}`
}

/** The time-based checkpoint interval never stretches beyond this (acks wait for checkpoints). */
const MAX_CHECKPOINT_MS = 5_000

/** A routine lane's consumer waits with this many of its inputs queued (flow control)… */
const QUEUE_HIGH = 1024
/** …until the loop has taken the queue below this. */
const QUEUE_LOW = 512

/** Inputs a fair round accepts (fair.ts): between two rounds an epoch may be sealed. */
const ROUND_MAX = 2048

/** Inputs of a fair round applied per step of the loop (the loop yields between steps after SLICE_MS). */
const FAIR_STEP = 32

/** Pull batch of an urgent lane: a handful in flight, so the server never has a flood of them queued for one pull. */
const URGENT_BATCH = 64

/**
 * Longest run of work (ms) before the loop lets I/O and the other stages of the process in. Its
 * inputs' consumers take in what the server delivered only then: during another source's burst, a
 * quiet source's fact joins the fair round (and is applied at its source's next turn) at the
 * first yield after it reached the socket. 1 ms rather than 4: a probe in the middle of another
 * source's 1,000-fact burst went from stored in FACTS to applied in detect in 31–42 ms (medians of
 * 9 bursts, 4 runs, with lazy consumers' longer runs) instead of 44–57 ms (2 runs before both).
 */
const SLICE_MS = 1

const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r))

/** A stage whose oldest unapplied input is older than this warns (once). */
const BEHIND_MS = 10_000
/** …and says it caught up (once) when it is back under this. */
const CAUGHT_UP_MS = 1_000

/** Inputs applied since the last seal, and the derived facts still awaiting their PubAck. */
interface Epoch {
  inputs: number
  outstanding: number
  /** Inputs to acknowledge once the epoch is committed (the highest of each lane). */
  toAck: AckRun
  waiters: Array<() => void>
}

const newEpoch = (): Epoch => ({ inputs: 0, outstanding: 0, toAck: new AckRun(), waiters: [] })

function settle(e: Epoch): void {
  e.outstanding--
  if (e.outstanding === 0) for (const w of e.waiters.splice(0)) w()
}

function settled(e: Epoch): Promise<void> {
  return e.outstanding === 0 ? Promise.resolve() : new Promise((r) => e.waiters.push(r))
}
