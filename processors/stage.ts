import { Observable, Subject, filter, type OperatorFunction } from 'rxjs'
import type { Fact, Rejection } from '../schemas/index.js'
import type { ChunkWriter } from './runner/binary.js'

/** A configuration value together with the KV revision it was read at. */
export interface Versioned<C> {
  /** KV bucket the config came from, e.g. `ben-detectors`. */
  readonly bucket: string
  /** KV revision (0 for the built-in default). Recorded in every derived fact's `config`. */
  readonly revision: number
  readonly value: C
}

export interface StepResult<S> {
  readonly state: S
  /** Derived facts, in order. Their ids must be derivedId(stage, version, revision, inputs, …). */
  readonly out: readonly Fact[]
  /** Set when the input cannot be accepted: it goes to `ben.dlq.<stage>`, the stage goes on. */
  readonly rejected?: Rejection
}

/**
 * A processor stage: a pure function of (state, input fact, config) to (state', output facts).
 * No wall clock, no randomness, no I/O, no Promise inside `step`: time is the fact's `ts`,
 * ids are hashes of the inputs. `step` must not throw for any input; if it does anyway the
 * runner treats it as a rejection (`stage_error`) and the input goes to the DLQ.
 */
export interface Stage<S, C, In extends Fact = Fact> {
  readonly name: string
  readonly version: string
  initialState(): S
  /** Which input facts this stage handles; others pass by untouched (and are acked). */
  accepts(fact: Fact): fact is In
  step(state: S, input: In, config: Versioned<C>): StepResult<S>
  /** State must be JSON-serialisable: it is checkpointed with the consumer position. */
  serialize?(state: S): unknown
  deserialize?(raw: unknown): S
  /**
   * Incremental checkpoints (instead of `serialize`): each checkpoint writes only what changed.
   * A stage with a journal keeps its own change log inside its state.
   */
  readonly journal?: StateJournal<S>
}

/**
 * How a stage's state is checkpointed as a log of segments (see runner/changelog.ts): segment
 * `seq` holds what changed since segment `seq - 1`, as frames; a restart reads the retained
 * segments, oldest first.
 */
export interface StateJournal<S> {
  /** Writes segment `seq` into `out` (synchronously, when an epoch is sealed); returns the oldest segment still needed. */
  write(state: S, seq: number, out: ChunkWriter): { readonly keepFrom: number; readonly keep?: readonly number[]; readonly records: number }
  /** Rebuilds a state from the frames of the retained segments, given oldest first. */
  restore(): StateRestore<S>
}

export interface StateRestore<S> {
  frame(seq: number, frame: Uint8Array): void
  finish(): S
}

/** What a stage operator emits for each input: the input, its derived facts, or its rejection. */
export interface Emission<In extends Fact = Fact> {
  readonly input: In
  readonly out: readonly Fact[]
  readonly rejected?: Rejection
}

/**
 * The one place where a throwing `step` becomes a rejection: the input is refused with reason
 * `stage_error` (it goes to the DLQ), the state is left as it was, the stage goes on. The live
 * runner (through `runStage`), replay, what-if and the benches all step through here.
 */
export function stepSafely<S, C, In extends Fact>(stage: Stage<S, C, In>, state: S, input: In, config: Versioned<C>): StepResult<S> {
  try {
    return stage.step(state, input, config)
  } catch (err) {
    return {
      state,
      out: [],
      rejected: { reason: 'stage_error', message: `${stage.name} failed on fact ${(input as { id?: unknown } | null)?.id}: ${(err as Error)?.message ?? String(err)}` },
    }
  }
}

/** Where `runStage` leaves the state after each step, for a caller that checkpoints it. */
export interface StateCell<S> {
  state: S
}

/**
 * Lifts a stage into an RxJS operator. The config is read at each input from `config()`
 * (hot-reloaded by the runner); state lives in the subscription's closure (and in `cell`, when
 * given, after every step: the live runner checkpoints it from there). A throwing `step` never
 * errors the stream: the input is emitted as rejected with reason `stage_error`.
 */
export function runStage<S, C, In extends Fact>(stage: Stage<S, C, In>, config: () => Versioned<C>, initial?: S, cell?: StateCell<S>): OperatorFunction<In, Emission<In>> {
  return (source) =>
    new Observable<Emission<In>>((subscriber) => {
      let state = initial ?? stage.initialState()
      if (cell) cell.state = state
      return source.subscribe({
        next(input) {
          const result = stepSafely(stage, state, input, config())
          state = result.state
          if (cell) cell.state = state
          subscriber.next(result.rejected ? { input, out: result.out, rejected: result.rejected } : { input, out: result.out })
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      })
    })
}

/** A stage operator fed one fact at a time (see `stageFeed`). */
export interface StageFeed<S, In extends Fact> {
  /** Steps one fact: its emission, or undefined when the stage does not take it (`accepts`). */
  push(f: Fact): Emission<In> | undefined
  /** The state after the last step (what a checkpoint saves). */
  readonly state: S
  close(): void
}

/**
 * The live composition of a stage: `filter(stage.accepts)` then `runStage` — the operator the
 * marble tests run — behind a Subject. RxJS delivers synchronously, so each `push` returns its
 * emission at once. The stage runner (JetStream) and the in-process pipeline (benches, golden
 * tests) both step stages through this.
 */
export function stageFeed<S, C, In extends Fact>(stage: Stage<S, C, In>, config: () => Versioned<C>, initial?: S): StageFeed<S, In> {
  const input = new Subject<Fact>()
  const cell: StateCell<S> = { state: initial ?? stage.initialState() }
  let emitted: Emission<In> | undefined
  const sub = input
    .pipe(
      filter((f: Fact): f is In => stage.accepts(f)),
      runStage(stage, config, cell.state, cell),
    )
    .subscribe((e) => {
      emitted = e
    })
  return {
    push(f) {
      emitted = undefined
      input.next(f)
      return emitted
    },
    get state() {
      return cell.state
    },
    close: () => sub.unsubscribe(),
  }
}

/** Convenience for tests and offline tools: the facts a stage derives from a sequence. */
export function stepAll<S, C, In extends Fact>(
  stage: Stage<S, C, In>,
  inputs: readonly In[],
  config: Versioned<C>,
  initial?: S,
): { state: S; out: Fact[]; rejected: Array<{ input: In; rejection: NonNullable<StepResult<S>['rejected']> }> } {
  let state = initial ?? stage.initialState()
  const out: Fact[] = []
  const rejected: Array<{ input: In; rejection: NonNullable<StepResult<S>['rejected']> }> = []
  for (const input of inputs) {
    const r = stage.step(state, input, config)
    state = r.state
    out.push(...r.out)
    if (r.rejected) rejected.push({ input, rejection: r.rejected })
  }
  return { state, out, rejected }
}
