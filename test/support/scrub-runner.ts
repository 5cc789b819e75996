import { expect } from 'vitest'
import { Kvm } from '@nats-io/kv'
import { Bucket, DeadLetters, kvName, type FactPublisher, type LatencyPath } from '../../streams/index.js'
import type { FactCodec, RawFact } from '../../schemas/index.js'
import { laneInputs } from '../../processors/wiring/index.js'
import { CheckpointStore, ConfigSource, StageRunner } from '../../processors/runner/index.js'
import { PIPELINE } from '../../processors/pipeline.js'
import { defaultManifest, type CompiledManifest } from '../../processors/scrub/index.js'
import type { TestNats } from './servers.js'

/** Scrub's runner on a test server, its outputs through `publisher` (on `latencyPath` when given). */
export async function scrubRunner(nats: TestNats, codec: FactCodec, publisher: FactPublisher, dlqPublisher: FactPublisher, latencyPath?: LatencyPath) {
  const spec = PIPELINE.scrub
  const inputs = laneInputs(spec, nats.subjects)
  expect(inputs.find((l) => l.lane === 'routine')?.fair, "scrub's routine lane is fair (state per source)").toBe(true)
  return new StageRunner<null, CompiledManifest, RawFact>(
    {
      stage: spec.stage,
      inputs,
      config: ConfigSource.fixed(Bucket.Redaction, 0, defaultManifest()),
      subjectFor: (f) => spec.subjectFor(nats.subjects, f),
      // A seal may come between rounds only (max-ack-pending is 4× this: all of the burst is delivered).
      checkpointEvery: { inputs: 200 },
      ...(latencyPath ? { latencyPath } : {}),
    },
    {
      nc: nats.nc,
      codec,
      topo: nats.topo,
      publisher,
      dlq: new DeadLetters(dlqPublisher, nats.subjects, codec, 'scrub'),
      checkpoints: new CheckpointStore(await new Kvm(nats.nc).open(kvName({}, Bucket.Checkpoints)), 'stage.scrub'),
    },
  )
}
