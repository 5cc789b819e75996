import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { builtScript } from '../infra/index.js'
import type { Item } from '../streams/index.js'
import { BatchWriter, RecordKind } from './batch.js'
import type { ComparatorPart } from './compare.js'
import { ReplayError, type ReplayErrorCode } from './errors.js'
import type { TelemetryStats } from './telemetry.js'
import type { FromWorker, ToWorker, WorkerInit, WorkerOutput } from './telemetry-worker.js'

/** An epoch is handed over when this many records (and deferred control steps) were read … */
const EPOCH_RECORDS = 4096
/** … or this many bytes were batched for its workers. */
const EPOCH_BYTES = 1 << 20
/** Epochs handed over and not yet merged before the reader waits. */
const MAX_IN_FLIGHT = 4

/**
 * Worker threads for a replay of `rawMessages` raw messages: `BEN_REPLAY_WORKERS` (0 = one
 * thread) or `requested` when given; otherwise one fewer than the cores (at most 4) for replays
 * big enough to pay for starting them, and only when that is 2 or more: a single worker only moves
 * the stage work off the reading thread, which measured no faster than one thread on 2 cores
 * (bench:replay) and costs ~1.7 s of worker start-up.
 */
export function replayWorkers(requested: number | undefined, rawMessages: number): number {
  const env = process.env.BEN_REPLAY_WORKERS
  if (requested !== undefined) return Math.max(0, Math.floor(requested))
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return Math.max(0, Math.floor(Number(env)))
  const workers = Math.min(4, availableParallelism() - 1)
  return rawMessages < 20_000 || workers < 2 ? 0 : workers
}

interface Epoch {
  readonly events: { pos: number; run: () => void }[]
  readonly outs: (readonly WorkerOutput[] | undefined)[]
  waiting: number
}

export interface PoolResult {
  readonly parts: ComparatorPart[]
  readonly stats: TelemetryStats
  readonly inputFacts: number
}

/**
 * The telemetry layer (decode, scrub, detect, scrubbed compare) on worker threads, each owning
 * the sources that hash to it. The reading thread appends raw facts and recorded scrubbed facts
 * to its workers' binary batches, and defers every other step (the control layer's) with its
 * read position; an epoch's batches go over as transferred buffers. When every worker has
 * answered an epoch, their outputs (rebuilt alerts and anomalies, each with its position) and
 * the deferred steps are merged by position and applied in that order: exactly the order the
 * one-thread engine applies them in, whatever the number of workers.
 */
export class TelemetryPool {
  failure: Error | undefined
  private readonly writers: BatchWriter[]
  private readonly route = new Map<string, number>()
  private current: Epoch
  private readonly queue: Epoch[] = []
  private sent = 0
  private applied = 0
  private wake: (() => void) | undefined
  private readonly done: (Extract<FromWorker, { type: 'done' }> | undefined)[]
  private closed = false

  private constructor(
    private readonly workers: Worker[],
    /** Applies a worker's output or a deferred step, in read order. */
    private readonly apply: (pos: number, what: WorkerOutput | (() => void)) => void,
  ) {
    this.writers = workers.map(() => new BatchWriter())
    this.done = workers.map(() => undefined)
    this.current = this.newEpoch()
    workers.forEach((w, i) => {
      w.on('message', (m: FromWorker) => this.onMessage(i, m))
      w.on('error', (err) => this.fail(err))
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`replay worker ${i} exited (code ${code}) before the replay ended`))
      })
    })
  }

  static start(n: number, init: Omit<WorkerInit, 'type'>, apply: (pos: number, what: WorkerOutput | (() => void)) => void): TelemetryPool {
    const url = builtScript('telemetry-worker.js', import.meta.url)
    const workers = Array.from({ length: n }, () => new Worker(url))
    for (const w of workers) w.postMessage({ type: 'init', ...init } satisfies ToWorker)
    return new TelemetryPool(workers, apply)
  }

  /** A raw fact of source `source`, read at `pos`; `nowMs` is the engine's clock then. */
  raw(pos: number, i: Item, source: string, nowMs: number): void {
    this.writers[this.workerOf(source)].add(RecordKind.Raw, pos, i.timeNs, nowMs, i.subject, i.headerBlock, i.data)
  }

  /** A recorded scrubbed fact of source `source` in scope, read at `pos`: compared on the worker that rebuilds it. */
  recorded(pos: number, i: Item, source: string): void {
    this.writers[this.workerOf(source)].add(RecordKind.Recorded, pos, i.timeNs, 0, '', i.headerBlock, i.data)
  }

  /** A control-layer step read at `pos`: run after every worker output of an earlier position. */
  defer(pos: number, run: () => void): void {
    this.current.events.push({ pos, run })
  }

  /** After each item read: hands the epoch over when it is full. True when the reader should `await settle()`. */
  step(): boolean {
    let records = this.current.events.length
    let bytes = 0
    for (const w of this.writers) {
      records += w.records
      bytes += w.bytes
    }
    if (records >= EPOCH_RECORDS || bytes >= EPOCH_BYTES) this.handOver()
    return this.sent - this.applied >= MAX_IN_FLIGHT || this.failure !== undefined
  }

  /** Waits until fewer than MAX_IN_FLIGHT epochs are unmerged (or `all`: none); throws a worker's failure. */
  async settle(all = false): Promise<void> {
    while (!this.failure && this.sent - this.applied >= (all ? 1 : MAX_IN_FLIGHT)) await new Promise<void>((r) => (this.wake = r))
    if (this.failure) throw this.failure
  }

  /** Hands over the last epoch, merges everything, and collects the workers' comparator parts and counts. */
  async finish(): Promise<PoolResult> {
    this.handOver()
    await this.settle(true)
    for (const w of this.workers) w.postMessage({ type: 'finish' } satisfies ToWorker)
    while (!this.failure && this.done.some((d) => d === undefined)) await new Promise<void>((r) => (this.wake = r))
    if (this.failure) throw this.failure
    const done = this.done as Extract<FromWorker, { type: 'done' }>[]
    const stats: TelemetryStats = { scrubbed: 0, detected: 0, anomalies: 0, rejected: 0 }
    for (const d of done) for (const k of Object.keys(stats) as (keyof TelemetryStats)[]) stats[k] += d.stats[k]
    return { parts: done.map((d) => d.part), stats, inputFacts: done.reduce((n, d) => n + d.inputFacts, 0) }
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }

  private workerOf(source: string): number {
    let w = this.route.get(source)
    if (w === undefined) {
      let h = 0x811c9dc5
      for (let k = 0; k < source.length; k++) h = Math.imul(h ^ source.charCodeAt(k), 0x01000193)
      w = (h >>> 0) % this.workers.length
      this.route.set(source, w)
    }
    return w
  }

  private newEpoch(): Epoch {
    return { events: [], outs: this.workers.map(() => undefined), waiting: this.workers.length }
  }

  private handOver(): void {
    const epoch = this.sent++
    this.queue.push(this.current)
    this.current = this.newEpoch()
    this.workers.forEach((w, i) => {
      const { buffer, length } = this.writers[i].take()
      w.postMessage({ type: 'batch', epoch, buffer, length } satisfies ToWorker, [buffer])
    })
  }

  private onMessage(i: number, m: FromWorker): void {
    if (m.type === 'error') {
      const err = m.code ? new ReplayError(m.code as ReplayErrorCode, m.message) : Object.assign(new Error(`replay worker ${i}: ${m.message}`), { name: m.name })
      return this.fail(err)
    }
    if (m.type === 'done') {
      this.done[i] = m
      return this.poke()
    }
    const e = this.queue[m.epoch - this.applied]
    if (!e) return this.fail(new Error(`replay worker ${i} answered epoch ${m.epoch}, which is not waiting`))
    e.outs[i] = m.outs
    e.waiting--
    try {
      while (this.queue.length > 0 && this.queue[0].waiting === 0) {
        this.merge(this.queue.shift()!)
        this.applied++
      }
    } catch (err) {
      this.fail(err as Error)
    }
    this.poke()
  }

  /** Applies an epoch: worker outputs and deferred steps in position order (a worker's output first at a tie: it comes from the raw fact). */
  private merge(e: Epoch): void {
    const outs = e.outs.flatMap((o) => o ?? [])
    if (e.outs.filter((o) => o && o.length > 0).length > 1) outs.sort((a, b) => a.pos - b.pos)
    let k = 0
    for (const ev of e.events) {
      while (k < outs.length && outs[k].pos <= ev.pos) this.apply(outs[k].pos, outs[k++])
      this.apply(ev.pos, ev.run)
    }
    while (k < outs.length) this.apply(outs[k].pos, outs[k++])
  }

  private fail(err: Error): void {
    this.failure ??= err
    this.poke()
  }

  private poke(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}
