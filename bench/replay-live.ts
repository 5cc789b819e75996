/** bench:replay helpers: an in-process "live" recording, and the read-only baseline. */
import { decodeMessage, streamName, type FactPublisher, type PublishOutcome, type Subjects } from '../streams/index.js'
import { FactCodec, type Fact, type RawFact } from '../schemas/index.js'
import type { KeyPair } from '../keys/index.js'
import { LocalPipeline } from '../processors/local-pipeline.js'
import { STAGE_NAMES } from '../processors/pipeline.js'
import { bySeq, mergeReaders, nextOf, openStreamReader, scrubbedMetrics, type ReplayDeps } from '../replay/index.js'

/** Stats key of each stage's output. */
const OUT = { scrub: 'scrubbed', detect: 'anomalies', policy: 'decisions', act: 'commands', incident: 'incidents' } as const

/**
 * Runs the stage graph over each chunk the way `ben up` interleaves it (LocalPipeline: every
 * stage, its lanes highest first): the raw chunk is stored, then each stage's output in graph
 * order (scrubbed facts, anomalies, decisions, commands, incident facts), each group stored in
 * processing order before the next.
 */
export class LiveRecorder {
  readonly stats = { raw: 0, scrubbed: 0, anomalies: 0, decisions: 0, commands: 0, incidents: 0, failed: 0 }
  private readonly pipeline: LocalPipeline

  constructor(
    private readonly publisher: FactPublisher,
    private readonly subjects: Subjects,
    issuer: KeyPair,
  ) {
    this.pipeline = new LocalPipeline(subjects, issuer)
  }

  private readonly count = (o: PublishOutcome) => {
    if (o.status === 'failed') this.stats.failed++
  }

  private async store(facts: ReadonlyArray<{ readonly fact: Fact; readonly subject: string }>): Promise<void> {
    for (const { fact, subject } of facts) {
      if (!this.publisher.trySend(fact, subject, this.count)) await this.publisher.send(fact, subject, this.count)
    }
    await this.publisher.flush()
  }

  async chunk(raw: readonly RawFact[]): Promise<void> {
    await this.store(raw.map((f) => ({ fact: f, subject: this.subjects.forFact(f) })))
    this.stats.raw += raw.length
    const out = this.pipeline.run(raw)
    for (const name of STAGE_NAMES) {
      await this.store(out[name])
      this.stats[OUT[name]] += out[name].length
    }
  }
}

/**
 * The baseline: the same messages the replay reads (raw facts and DERIVED from JetStream, or
 * scrubbed metrics from ClickHouse plus DERIVED's control facts), decoded where the replay
 * decodes them, with no stage run and nothing compared.
 */
export async function readOnly(deps: ReplayDeps, from: 'jetstream' | 'clickhouse'): Promise<number> {
  const codec = deps.codec ?? new FactCodec()
  const s = deps.subjects
  const open = async (stream: 'FACTS' | 'DERIVED' | 'COMMANDS', filters: string[]) =>
    mergeReaders(await Promise.all(filters.map((f) => openStreamReader(deps.nc, streamName({}, stream), f))), bySeq)
  let n = 0
  const dbg = (m: string) => process.env.BENCH_DEBUG && process.stderr.write(`readOnly ${from}: ${m}\n`)
  if (from === 'jetstream') {
    const raw = await open('FACTS', [s.factsAll])
    for (let i = await nextOf(raw); i; i = await nextOf(raw)) if (decodeMessage(codec, s, i.subject, i.headers, i.data).ok) n++
  } else {
    const rows = scrubbedMetrics(deps.warehouse, codec, { derivedStream: streamName({}, 'DERIVED'), sources: null })
    for (let r = await nextOf(rows); r; r = await nextOf(rows)) n++
  }
  dbg(`inputs ${n}`)
  const derived = await open(
    'DERIVED',
    from === 'jetstream' ? [s.scrubbedAll, s.anomalyAll, s.decisionAll, s.incidentAll] : [`${s.prefix}.scrubbed.alert.>`, s.anomalyAll, s.decisionAll, s.incidentAll],
  )
  for (let i = await nextOf(derived); i; i = await nextOf(derived)) void i
  return n
}
