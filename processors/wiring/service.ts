import type { RuntimeContext, Service } from '../../infra/index.js'
import { Bucket, kvName, type StreamName } from '../../streams/index.js'
import type { Fact, Result } from '../../schemas/index.js'
import type { Stage } from '../stage.js'
import { CheckpointStore, ConfigSource, openBucket, StageRunner, type LaneInput } from '../runner/index.js'

export interface StageServiceSpec<S, C, In extends Fact> {
  readonly stage: Stage<S, C, In>
  readonly inputs: readonly LaneInput[]
  /** The config: a KV bucket and key, its loader and the built-in default. */
  readonly config: { readonly bucket: Bucket; readonly key: string; load(text: string): Result<C, { message: string }>; fallback(): C } | ConfigSource<C>
  subjectFor(out: Fact): string
  readonly checkpointEvery?: { readonly inputs?: number; readonly ms?: number }
}

/**
 * A stage as a `ben up` service: its config source (KV, hot-reloaded), its checkpoint store,
 * and a runner. If the runner stops on a failure (a derived fact that could not be stored), a
 * fresh runner takes over from the last checkpoint after a short pause.
 */
export async function stageService<S, C, In extends Fact>(ctx: RuntimeContext, spec: StageServiceSpec<S, C, In>): Promise<Service & { runner(): StageRunner<S, C, In> }> {
  const config =
    spec.config instanceof ConfigSource
      ? spec.config
      : await ConfigSource.open(await openBucket(ctx.nc, kvName(ctx.topo, spec.config.bucket)), { ...spec.config, bucket: spec.config.bucket, log: ctx.log })
  const checkpoints = new CheckpointStore(await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Checkpoints)), `stage.${spec.stage.name}`)
  const make = () =>
    new StageRunner<S, C, In>(
      { stage: spec.stage, inputs: spec.inputs, config, subjectFor: spec.subjectFor, checkpointEvery: spec.checkpointEvery, log: ctx.log },
      { nc: ctx.nc, codec: ctx.codec, topo: ctx.topo, publisher: ctx.publisher, dlq: ctx.dlq(spec.stage.name), checkpoints },
    )
  let runner = make()
  await runner.start()
  let stopped = false
  const watchdog = setInterval(() => {
    if (stopped || !runner.failed) return
    const old = runner
    runner = make()
    ctx.log.warn({ stage: spec.stage.name, err: old.failed?.message }, 'restarting stage from its last checkpoint')
    void old.stop().then(() => runner.start()).catch((err) => ctx.log.error({ stage: spec.stage.name, err: (err as Error).message }, 'stage restart failed'))
  }, 2000)
  watchdog.unref()
  return {
    name: `stage:${spec.stage.name}`,
    runner: () => runner,
    async stop() {
      stopped = true
      clearInterval(watchdog)
      await runner.stop()
    },
  }
}

export const lane = (laneName: string, stream: StreamName, filterSubject: string): LaneInput => ({ lane: laneName, stream, filterSubject })
