import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Subscription } from 'rxjs'
import type { Fact, FactCodec } from '../../schemas/index.js'
import { consumeFacts, ensureDurable, metrics, streamName, type DeadLetters, type Envelope, type FactPublisher, type Logger, type PublishOutcome, type StreamName, type TopologyOptions } from '../../streams/index.js'
import type { Stage } from '../stage.js'
import type { CheckpointStore } from './checkpoint.js'
import type { ConfigSource } from './config-source.js'

/** One input lane of a stage. Lanes are listed highest priority first. */
export interface LaneInput {
  readonly lane: string
  readonly stream: StreamName
  readonly filterSubject: string
}

export interface StageRunnerOptions<S, C, In extends Fact> {
  readonly stage: Stage<S, C, In>
  readonly inputs: readonly LaneInput[]
  readonly config: ConfigSource<C>
  /** Where each derived fact is published. */
  subjectFor(out: Fact): string
  /** Checkpoint after this many inputs or this long, whichever first. Default 2,000 / 1 s. */
  readonly checkpointEvery?: { readonly inputs?: number; readonly ms?: number }
  /** Consumer name prefix (tests run several Bens on one server). Default `stage-`. */
  readonly durablePrefix?: string
  readonly log?: Logger
}

export interface RunnerDeps {
  readonly nc: NatsConnection
  readonly codec: FactCodec
  readonly topo: Pick<TopologyOptions, 'streamPrefix' | 'subjects'>
  readonly publisher: FactPublisher
  readonly dlq: DeadLetters
  readonly checkpoints: CheckpointStore
}

export interface RunnerStats {
  applied: number
  skipped: number
  derived: number
  rejected: number
  checkpoints: number
  failedPublishes: number
}

/**
 * Wires a pure stage to JetStream with DESIGN.md's guarantees:
 *
 * - **Ack after commit.** Derived facts are published through the acknowledged publisher; an
 *   input is acked only after a checkpoint that covers it, which is taken only once every fact
 *   derived so far has its PubAck. A crash re-delivers; re-derived facts carry the same ids
 *   and JetStream de-duplicates them.
 * - **State is checkpointed with its position.** The checkpoint holds the stage state and, per
 *   lane, the stream sequence of the last input folded into it. On start the durable
 *   consumers are re-created at those positions + 1, so a restart neither loses nor
 *   double-counts: the output equals an uninterrupted run's.
 * - **Priority lanes.** Lanes are drained highest first: buffered alert-lane inputs are
 *   processed before anomaly-lane ones.
 * - **Bad input never stops the stage.** A rejected input goes to `ben.dlq.<stage>` with the
 *   reason and its original bytes.
 */
export class StageRunner<S, C, In extends Fact> {
  readonly stats: RunnerStats = { applied: 0, skipped: 0, derived: 0, rejected: 0, checkpoints: 0, failedPublishes: 0 }
  private state!: S
  private positions: Record<string, number> = {}
  private readonly queues: Envelope[][]
  private readonly subs: Subscription[] = []
  private toAck: Envelope[] = []
  private outstanding = 0
  private idle: Array<() => void> = []
  private sinceCheckpoint = 0
  private lastCheckpoint = 0
  private running = false
  private stopped = false
  private looping: Promise<void> | undefined
  private failure: Error | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly everyInputs: number
  private readonly everyMs: number

  constructor(
    private readonly opts: StageRunnerOptions<S, C, In>,
    private readonly deps: RunnerDeps,
  ) {
    this.queues = opts.inputs.map(() => [])
    this.everyInputs = opts.checkpointEvery?.inputs ?? 2000
    this.everyMs = opts.checkpointEvery?.ms ?? 1000
  }

  get name(): string {
    return this.opts.stage.name
  }

  async start(): Promise<void> {
    const { stage, inputs } = this.opts
    const cp = await this.deps.checkpoints.load()
    if (cp && cp.version === stage.version) {
      this.state = stage.deserialize ? stage.deserialize(cp.state) : (cp.state as S)
      this.positions = { ...cp.positions }
      this.stats.applied = cp.applied
    } else {
      if (cp) this.opts.log?.warn({ stage: stage.name, from: cp.version, to: stage.version }, 'checkpoint from another stage version: starting from scratch')
      this.state = stage.initialState()
      this.positions = {}
    }
    const jsm = await jetstreamManager(this.deps.nc)
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]
      const stream = streamName(this.deps.topo, input.stream)
      const durable = `${this.opts.durablePrefix ?? 'stage-'}${stage.name}-${input.lane}`
      // Re-position the durable at the checkpoint: everything after it is applied again.
      await jsm.consumers.delete(stream, durable).catch(() => undefined)
      const from = this.positions[input.lane]
      await ensureDurable(this.deps.nc, {
        stream,
        durable,
        filterSubject: input.filterSubject,
        maxAckPending: this.everyInputs * 4,
        ackWaitMs: 30_000,
        ...(from ? { startSeq: from + 1 } : {}),
      })
      const sub = consumeFacts(this.deps.nc, this.deps.codec, this.deps.topo.subjects, {
        stream,
        durable,
        filterSubject: input.filterSubject,
        stage: stage.name,
        maxAckPending: this.everyInputs * 4,
        batch: 500,
        dlq: this.deps.dlq,
        log: this.opts.log,
      }).subscribe({
        next: (env) => {
          this.queues[i].push(env)
          this.kick()
        },
        error: (err) => this.fail(err as Error),
      })
      this.subs.push(sub)
    }
    this.lastCheckpoint = Date.now()
    this.timer = setInterval(() => this.kick(true), this.everyMs)
    this.timer.unref()
  }

  /** Stops consuming, finishes the inputs in hand, writes a final checkpoint, acks. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const s of this.subs) s.unsubscribe()
    if (this.timer) clearInterval(this.timer)
    await this.looping
    if (!this.failure) await this.checkpoint().catch((err) => this.opts.log?.error({ stage: this.name, err: (err as Error).message }, 'final checkpoint failed'))
    this.opts.config.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  private kick(timer = false): void {
    if (this.running) return
    if (timer && this.sinceCheckpoint === 0) return
    this.running = true
    this.looping = this.loop()
      .catch((err) => this.fail(err as Error))
      .finally(() => {
        this.running = false
      })
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.failure) return
      const env = this.next()
      if (!env) break
      this.apply(env.env, env.lane)
      if (this.pendingSends.length) await this.drainSends()
      if (this.sinceCheckpoint >= this.everyInputs) await this.checkpoint()
    }
    if (this.sinceCheckpoint > 0 && Date.now() - this.lastCheckpoint >= this.everyMs) await this.checkpoint()
  }

  private next(): { env: Envelope; lane: string } | undefined {
    if (this.stopped) return undefined
    for (let i = 0; i < this.queues.length; i++) {
      const q = this.queues[i]
      if (q.length) return { env: q.shift()!, lane: this.opts.inputs[i].lane }
    }
    return undefined
  }

  private pendingSends: Fact[] = []

  private apply(env: Envelope, lane: string): void {
    const { stage } = this.opts
    const last = this.positions[lane] ?? 0
    if (env.seq <= last) {
      // Already folded into the state (a redelivery of something checkpointed).
      env.ack()
      this.stats.skipped++
      return
    }
    this.positions[lane] = env.seq
    this.sinceCheckpoint++
    this.stats.applied++
    this.toAck.push(env)
    if (!stage.accepts(env.fact)) return
    let result
    try {
      result = stage.step(this.state, env.fact as In, this.opts.config.get())
    } catch (err) {
      result = { state: this.state, out: [], rejected: { reason: 'stage_error' as const, message: `${stage.name} failed on fact ${env.fact.id}: ${(err as Error).message}` } }
    }
    this.state = result.state
    if (result.rejected) {
      this.stats.rejected++
      const r = env.raw
      this.outstanding++
      void this.deps.dlq.send({ subject: r.subject, headers: r.headers, data: r.data, stream: r.stream, seq: r.seq }, result.rejected).then((ok) => {
        if (!ok) this.fail(new Error(`could not store a dead letter for ${env.fact.id}`))
        this.settleOne()
      })
    }
    for (const f of result.out) this.pendingSends.push(f)
  }

  private async drainSends(): Promise<void> {
    const sends = this.pendingSends
    this.pendingSends = []
    for (const f of sends) {
      this.outstanding++
      this.stats.derived++
      const subject = this.opts.subjectFor(f)
      if (!this.deps.publisher.trySend(f, subject, this.onPublished)) await this.deps.publisher.send(f, subject, this.onPublished)
    }
  }

  private readonly onPublished = (o: PublishOutcome): void => {
    if (o.status === 'failed') {
      this.stats.failedPublishes++
      this.fail(new Error(`derived fact ${o.id} was not stored: ${o.error}`))
    } else metrics.factsOut.inc({ stage: this.name })
    this.settleOne()
  }

  private settleOne(): void {
    this.outstanding--
    if (this.outstanding === 0) for (const r of this.idle.splice(0)) r()
  }

  private allSettled(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve()
    return new Promise((r) => this.idle.push(r))
  }

  /** Waits for every derived fact's PubAck, saves state + positions, then acks the inputs. */
  private async checkpoint(): Promise<void> {
    if (this.pendingSends.length) await this.drainSends()
    await this.allSettled()
    if (this.failure) return
    const { stage } = this.opts
    await this.deps.checkpoints.save({
      stage: stage.name,
      version: stage.version,
      positions: this.positions,
      state: stage.serialize ? stage.serialize(this.state) : this.state,
      applied: this.stats.applied,
    })
    for (const e of this.toAck) e.ack()
    this.toAck = []
    this.sinceCheckpoint = 0
    this.lastCheckpoint = Date.now()
    this.stats.checkpoints++
  }

  private fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    this.opts.log?.error({ stage: this.name, err: err.message }, 'stage runner stopped: it resumes from its last checkpoint on restart')
    for (const s of this.subs) s.unsubscribe()
  }

  get failed(): Error | undefined {
    return this.failure
  }
}
