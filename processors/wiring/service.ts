import { supervise, type Worker } from '../../infra/supervise.js'
import type { RuntimeContext, Service } from '../../infra/runtime.js'
import { Bucket, kvName, openBucket, partitionLabel, streamName, type Partition, type StreamName } from '../../streams/index.js'
import type { Fact, Result } from '../../schemas/index.js'
import type { Stage } from '../stage.js'
import { acquireAlertLink, CheckpointStore, ConfigSource, StageRunner, stageDurable, type LaneInput } from '../runner/index.js'

export interface StageServiceSpec<S, C, In extends Fact> {
  readonly stage: Stage<S, C, In>
  readonly inputs: readonly LaneInput[]
  /** The config: a KV bucket and key, its loader and the built-in default. */
  readonly config: { readonly bucket: Bucket; readonly key: string; load(text: string): Result<C, { message: string }>; fallback(): C } | ConfigSource<C>
  subjectFor(out: Fact): string
  /** Where its outputs are stored (a restart does not publish again what is already there). */
  readonly output?: { readonly stream: StreamName; readonly filterSubject: string }
  readonly checkpointEvery?: { readonly inputs?: number; readonly ms?: number }
  /** The partition this service runs (default: the whole input). */
  readonly partition?: Partition
  /**
   * Which of the stage's lanes this service runs (default `all`). `urgent`: only its urgent
   * (alert) lanes, under a checkpoint of their own (`<key>.urgent`); `routine`: all the others,
   * under the stage's checkpoint. The alert path (alert-path.ts) runs scrub split this way, for
   * a stage whose output does not depend on how its lanes interleave (no state: scrub).
   */
  readonly lanes?: LaneSet
}

export const LaneSet = { All: 'all', Urgent: 'urgent', Routine: 'routine' } as const
export type LaneSet = (typeof LaneSet)[keyof typeof LaneSet]

/** `stage:detect`, or `stage:detect#p1of4` for one partition. */
export function stageServiceName(stage: string, partition?: Partition, lanes: LaneSet = LaneSet.All): string {
  const p = partition ? partitionLabel(partition) : ''
  return `stage:${stage}${p ? `#${p}` : ''}${lanes === LaneSet.All ? '' : `#${lanes}`}`
}

/**
 * A stage as a `ben up` service: its config source (KV, hot-reloaded), its checkpoint store,
 * and a runner under a supervisor (infra/supervise.ts) that never gives up: a runner that
 * failed, whose consumer was deleted, or that stalls with input waiting is replaced by a fresh
 * one from the last checkpoint, with back-off while NATS or the disk is not back yet.
 */
export async function stageService<S, C, In extends Fact>(
  ctx: RuntimeContext,
  spec: StageServiceSpec<S, C, In>,
): Promise<Service & { runner(): StageRunner<S, C, In>; readonly restarts: number }> {
  const config =
    spec.config instanceof ConfigSource
      ? spec.config
      : await ConfigSource.open(await openBucket(ctx.nc, kvName(ctx.topo, spec.config.bucket)), { ...spec.config, bucket: spec.config.bucket, log: ctx.log })
  // Runners close their config when they stop; this one outlives every runner the supervisor
  // starts on it, so it is closed once, when the service stops.
  const closeConfig = config.close.bind(config)
  config.close = () => undefined
  const p = spec.partition ? partitionLabel(spec.partition) : ''
  const base = `stage.${spec.stage.name}`
  const lanes = spec.lanes ?? LaneSet.All
  const inputs = lanes === LaneSet.All ? spec.inputs : spec.inputs.filter((i) => (i.urgent === true) === (lanes === LaneSet.Urgent))
  const urgentLanes = spec.inputs.filter((i) => i.urgent).map((i) => i.lane)
  const bucket = await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Checkpoints))
  // The urgent lanes split off keep their checkpoint under `<base>.urgent` (first start: the whole
  // stage's). Whichever way the stage ran before (split or whole), an urgent lane resumes at the
  // later of the two checkpoints' positions: switching neither loses nor re-derives.
  // A partition's urgent lanes split off (a worker's alert thread, alert-thread.ts) keep theirs under
  // `<base>.<p>.urgent` (first start: the partition's), and resume at the latest of that and `<base>.urgent`
  // (the positions of `ben up`'s alert path, in one process: the same lane, whole).
  const whole = p ? `${base}.${p}` : base
  const splitKey = `${base}.urgent`
  const retry = {
    onRetry: (key: string, attempt: number, timeoutMs: number) =>
      ctx.log.warn({ key, attempt, timeoutMs }, `checkpoint write of ${key} not acknowledged within ${timeoutMs} ms: sent again`),
  }
  const checkpoints =
    lanes === LaneSet.Urgent ? new CheckpointStore(bucket, p ? `${whole}.urgent` : splitKey, whole, retry) : new CheckpointStore(bucket, whole, p ? base : undefined, retry)
  const alsoAt =
    urgentLanes.length && lanes !== LaneSet.Routine ? { store: new CheckpointStore(bucket, lanes === LaneSet.Urgent && !p ? base : splitKey), lanes: urgentLanes } : undefined
  const durablePrefix = 'stage-'
  const name = stageServiceName(spec.stage.name, spec.partition, lanes)
  // A stage with an urgent (alert) lane consumes and publishes it on the process's alert link.
  const alert = inputs.some((i) => i.urgent) ? await acquireAlertLink(ctx.nc, ctx.subjects, ctx.codec, (ctx.topo.replicas ?? 1) > 1 ? { waitForStreamMs: 60_000 } : {}) : undefined
  let runner: StageRunner<S, C, In> | undefined
  const start = async (): Promise<Worker> => {
    const r = new StageRunner<S, C, In>(
      {
        stage: spec.stage,
        inputs,
        config,
        subjectFor: spec.subjectFor,
        output: spec.output,
        checkpointEvery: spec.checkpointEvery,
        durablePrefix,
        partition: spec.partition,
        ...(alsoAt ? { alsoAt } : {}),
        log: ctx.log,
      },
      { nc: ctx.nc, codec: ctx.codec, topo: ctx.topo, publisher: ctx.publisher, dlq: ctx.dlq(spec.stage.name), checkpoints, ...(alert ? { alert: alert.link } : {}) },
    )
    try {
      await r.start()
    } catch (err) {
      // Half started (some lanes subscribed): stop those before the next attempt.
      r.abort()
      await r.stop().catch(() => undefined)
      throw err
    }
    runner = r
    return { stop: () => r.stop(), abort: () => r.abort(), failed: () => r.failed, progress: () => r.stats.applied + r.stats.skipped }
  }
  const supervised = await supervise({
    name,
    nc: ctx.nc,
    log: ctx.log,
    start,
    durables: inputs.map((i) => ({ stream: streamName(ctx.topo, i.stream), durable: stageDurable(durablePrefix, spec.stage.name, i.lane, spec.partition) })),
  }).catch(async (err: unknown) => {
    await alert?.release()
    throw err
  })
  return {
    name,
    runner: () => runner!,
    get restarts() {
      return supervised.restarts
    },
    async stop() {
      await supervised.stop()
      await alert?.release()
      closeConfig()
    },
  }
}

export const lane = (laneName: string, stream: StreamName, filterSubject: string): LaneInput => ({ lane: laneName, stream, filterSubject })
