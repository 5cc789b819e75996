import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { FactCodec, parseEdgeFact, type MetricFact } from '../schemas/index.js'
import { DeadLetters, FactPublisher, kvName, Bucket } from '../streams/index.js'
import { detectStage, defaultDetectorConfig, type DetectorConfig } from '../processors/detect/index.js'
import { CheckpointStore, ConfigSource, MAX_SEGMENTS, StageRunner } from '../processors/runner/index.js'
import { createFleet } from '../simulate/index.js'
import { fetchCounted, startTestNats, waitFor, type TestNats } from './support/servers.js'

const codec = new FactCodec()
/** How long a run may take to get where a step waits for it (a hang still fails). */
const RUN_MS = 240_000

/** Scrubbed-lane metric facts from a simulated fleet with a runaway (detect's input). */
function inputs(): MetricFact[] {
  const fleet = createFleet({
    hosts: 3,
    seed: 'restart',
    startTs: 1_763_700_000_000,
    rate: 200,
    durationMs: 240_000,
    scenarios: [{ kind: 'cpu-runaway', atMs: 120_000, durationMs: 30_000 }],
  })
  const out: MetricFact[] = []
  for (const e of fleet.next(1_763_700_000_000 + 240_000)) {
    if (e.lane !== 'metric') continue
    const r = parseEdgeFact(e)
    if (r.ok) out.push(r.value as MetricFact)
  }
  return out
}

async function runDetect(nats: TestNats, publisher: FactPublisher): Promise<StageRunner<unknown, DetectorConfig, MetricFact>> {
  const kv = await new Kvm(nats.nc).open(kvName({}, Bucket.Checkpoints))
  const config = ConfigSource.fixed('ben-detectors', 0, defaultDetectorConfig().value)
  const runner = new StageRunner(
    {
      stage: detectStage as never,
      inputs: [{ lane: 'metric', stream: 'DERIVED', filterSubject: 'ben.scrubbed.metric.>' }],
      config,
      subjectFor: (f) => nats.subjects.forFact(f),
      checkpointEvery: { inputs: 500, ms: 200 },
    },
    { nc: nats.nc, codec, topo: nats.topo, publisher, dlq: new DeadLetters(publisher, nats.subjects, codec, 'detect'), checkpoints: new CheckpointStore(kv, 'stage.detect') },
  )
  await runner.start()
  return runner as never
}

async function anomalies(nats: TestNats): Promise<Map<string, string>> {
  const c = await jetstream(nats.nc).consumers.get('DERIVED', { filter_subjects: 'ben.anomaly.>' })
  const info = await c.info(true)
  const out = new Map<string, string>()
  if (info.num_pending === 0) return out
  await fetchCounted('the anomalies', c, info.num_pending, (m) => out.set(m.headers!.get('Nats-Msg-Id'), Buffer.from(m.data).toString('base64')), RUN_MS)
  return out
}

describe('a stage restarted mid-stream resumes from its (incremental) checkpoint', () => {
  let a: TestNats
  let b: TestNats
  const facts = inputs()

  beforeAll(async () => {
    ;[a, b] = await Promise.all([startTestNats(), startTestNats()])
  })
  afterAll(async () => {
    await a?.stop()
    await b?.stop()
  })

  it(`gives byte-identical anomalies to an uninterrupted run (${facts.length} inputs, crashes at 1/2 and 2/3)`, async () => {
    expect(facts.length).toBeGreaterThan(5000)
    // Publish the facts where detect reads them (the scrubbed metric subjects), on both servers.
    for (const n of [a, b]) {
      const p = new FactPublisher(n.nc, n.subjects, codec)
      let failed = 0
      for (const f of facts) await p.send(f, n.subjects.scrubbed('metric', f.source), (o) => void (o.status === 'failed' && failed++))
      await p.flush()
      await p.close()
      expect(failed).toBe(0)
    }

    // Each run works through thousands of inputs: seconds on a quiet machine, minutes at load 9 on
    // two cores. The deadlines only catch a run that stopped making progress.
    const pa = new FactPublisher(a.nc, a.subjects, codec)
    const ra = await runDetect(a, pa)
    await waitFor('run A to apply every input', () => ra.stats.applied >= facts.length || undefined, RUN_MS, 50)
    await ra.stop()
    await pa.close()

    const pb = new FactPublisher(b.nc, b.subjects, codec)
    const rb1 = await runDetect(b, pb)
    await waitFor('run B to get half-way', () => rb1.stats.applied >= facts.length / 2 || undefined, RUN_MS, 5)
    rb1.abort()
    const crashedAt = rb1.stats.applied
    expect(crashedAt).toBeLessThan(facts.length)
    expect(rb1.stats.checkpoints).toBeGreaterThan(0)
    // a second crash, from an incremental checkpoint (a log of binary segments)
    const rb2 = await runDetect(b, pb)
    await waitFor('run B to get two thirds of the way', () => rb2.stats.applied >= (facts.length * 2) / 3 || undefined, RUN_MS, 5)
    rb2.abort()
    expect(rb2.stats.checkpoints).toBeGreaterThan(0)
    const kv = await new Kvm(b.nc).open(kvName({}, Bucket.Checkpoints))
    const stored = await new CheckpointStore(kv, 'stage.detect').open()
    expect(stored?.kind).toBe('log')
    const rb3 = await runDetect(b, pb)
    await waitFor('run B to finish after the restarts', () => rb3.stats.applied >= facts.length || undefined, RUN_MS, 50)
    await rb3.stop()
    await pb.close()
    // the checkpoint bucket keeps one revision of a fixed set of keys: meta + slots x chunks
    const info = await jetstreamManager(b.nc).then((m) => m.streams.info(`KV_${kvName({}, Bucket.Checkpoints)}`, { subjects_filter: '>' }))
    expect(info.config.max_msgs_per_subject).toBe(1)
    const subjects = Object.keys(info.state.subjects ?? {})
    expect(subjects.length).toBeGreaterThan(1)
    expect(subjects.length).toBeLessThanOrEqual(1 + MAX_SEGMENTS + 1)
    expect(subjects.every((s) => /^\$KV\.[^.]+\.stage\.detect\.(meta|s\d+\.\d+)$/.test(s))).toBe(true)

    const [got, want] = await Promise.all([anomalies(b), anomalies(a)])
    expect(want.size).toBeGreaterThan(0)
    expect(got.size).toBe(want.size)
    for (const [id, bytes] of want) expect(got.get(id), `anomaly ${id}`).toBe(bytes)
  }, 900_000)
  it('a whole-state (json) checkpoint reads back the state it saved, and its head', async () => {
    const kv = await new Kvm(a.nc).open(kvName({}, Bucket.Checkpoints))
    const store = new CheckpointStore(kv, 'stage.json-roundtrip')
    const state = { open: [['i1', { members: ['f1', 'f2'] }]], watermark: 42 }
    await store.save({ stage: 'incident', version: '3', positions: { alert: 7, ack: 9 }, applied: 16, outputSeq: 120, state })
    const back = await new CheckpointStore(kv, 'stage.json-roundtrip').load()
    expect(back).toEqual({ stage: 'incident', version: '3', positions: { alert: 7, ack: 9 }, applied: 16, outputSeq: 120, state })
  })
})
