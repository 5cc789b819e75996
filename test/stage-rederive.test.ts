import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { FactCodec, type RawFact } from '../schemas/index.js'
import { Bucket, DeadLetters, FactPublisher, kvName } from '../streams/index.js'
import { defaultManifest, scrubStage } from '../processors/scrub/index.js'
import { CheckpointStore, ConfigSource, StageRunner } from '../processors/runner/index.js'
import { startTestNats, waitFor, type TestNats } from './support/servers.js'
import { metricFact } from './support/facts.js'

const codec = new FactCodec()

/**
 * A stage killed between publishing its outputs and checkpointing them re-derives them on restart.
 * JetStream's duplicate window (100 ms here) has passed by then: the runner itself must find them
 * stored and not publish them again, whether or not it had a checkpoint when it was killed (before
 * the fix, a stage killed before its first checkpoint published everything a second time: 1,999
 * scrubbed facts stored twice in test/faults.test.ts).
 */
describe('a stage killed before its outputs are checkpointed stores nothing twice on restart, past the duplicate window', () => {
  let nats: TestNats
  let publisher: FactPublisher
  let n = 0

  beforeAll(async () => {
    nats = await startTestNats({ duplicateWindowMs: 100 })
    publisher = new FactPublisher(nats.nc, nats.subjects, codec)
  })
  afterAll(async () => {
    await publisher?.close()
    await nats?.stop()
  })

  async function publish(count: number, source: string): Promise<void> {
    const facts: RawFact[] = []
    for (let i = 0; i < count; i++) facts.push(metricFact(n++, source))
    const r = await publisher.publishAll(facts)
    expect(r.stored).toBe(count)
  }

  /** A scrub runner over one source's facts (each case has its own source, durables and checkpoint). */
  async function scrub(source: string, every: number): Promise<StageRunner<null, unknown, RawFact>> {
    const kv = await new Kvm(nats.nc).open(kvName({}, Bucket.Checkpoints))
    const runner = new StageRunner(
      {
        stage: scrubStage as never,
        inputs: [{ lane: 'routine', stream: 'FACTS', filterSubject: `ben.fact.metric.${source}` }],
        config: ConfigSource.fixed('ben-redaction', 0, defaultManifest()),
        subjectFor: (f) => nats.subjects.forFact(f, { scrubbed: true }),
        output: { stream: 'DERIVED', filterSubject: `ben.scrubbed.metric.${source}` },
        checkpointEvery: { inputs: every, ms: 3_600_000 },
        durablePrefix: `${source}-`,
      },
      { nc: nats.nc, codec, topo: nats.topo, publisher, dlq: new DeadLetters(publisher, nats.subjects, codec, 'scrub'), checkpoints: new CheckpointStore(kv, `stage.${source}`) },
    )
    await runner.start()
    return runner as never
  }

  const derived = async (): Promise<number> => (await (await jetstreamManager(nats.nc)).streams.info('DERIVED')).state.messages

  /** Until JetStream's duplicate window has passed: a probe published twice under one id is stored twice. */
  async function windowPassed(): Promise<void> {
    const js = jetstream(nats.nc)
    const id = `probe-${Date.now()}`
    await js.publish('ben.dlq.probe', '{}', { msgID: id })
    await waitFor('the duplicate window to pass', async () => !(await js.publish('ben.dlq.probe', '{}', { msgID: id })).duplicate, 120_000, 50)
  }

  it('killed before its first checkpoint: the restart finds every output stored and publishes none again', async () => {
    await publish(300, 'web-a')
    // No checkpoint is taken: 300 inputs are fewer than `every`, and the time interval is an hour.
    const first = await scrub('web-a', 1_000_000)
    await waitFor('300 scrubbed facts', async () => (await derived()) === 300 || undefined, 120_000)
    expect(first.stats.checkpoints).toBe(0)
    first.abort()
    await windowPassed()

    const second = await scrub('web-a', 1_000_000)
    await waitFor('the restart to apply the 300 inputs', () => second.stats.applied === 300 || undefined, 120_000)
    await second.stop()
    expect(second.stats.storedBefore).toBe(300)
    expect(second.stats.derived).toBe(0)
    expect(await derived()).toBe(300)
  })

  it('killed after a checkpoint, with outputs stored after it: those are not published again, later inputs are', async () => {
    const base = await derived()
    const runner = await scrub('web-b', 100)
    await publish(100, 'web-b')
    await waitFor('the first checkpoint', () => runner.stats.checkpoints >= 1 || undefined, 120_000)
    // Fewer than `every`: no second checkpoint before the kill.
    await publish(50, 'web-b')
    await waitFor('150 scrubbed facts', async () => (await derived()) === base + 150 || undefined, 120_000)
    runner.abort()
    await windowPassed()

    const again = await scrub('web-b', 1_000_000)
    await publish(20, 'web-b')
    await waitFor('the restart to apply every input', () => again.stats.applied === 170 || undefined, 120_000)
    await again.stop()
    expect(again.stats.storedBefore).toBe(50)
    expect(again.stats.derived).toBe(20)
    expect(await derived()).toBe(base + 170)
  })
})
