/** bench:replay helpers: an in-process "live" recording, and the read-only baseline. */
import { Bucket, decodeMessage, streamName, type FactPublisher, type PublishOutcome, type Subjects } from '../streams/index.js'
import { FactCodec, type AnomalyFact, type CommandFact, type DecisionFact, type Fact, type IncidentFact, type MetricFact, type RawFact } from '../schemas/index.js'
import { defaultManifest, scrubStage, versioned } from '../processors/scrub/index.js'
import { defaultDetectorConfig, detectStage } from '../processors/detect/index.js'
import { defaultPack, policyStage } from '../processors/policy/index.js'
import { actConfig, actStage, defaultVerbs, type KeyPair } from '../processors/act/index.js'
import { defaultIncidentConfig, incidentStage } from '../processors/incident/index.js'
import type { Versioned } from '../processors/stage.js'
import { bySeq, mergeReaders, nextOf, openStreamReader, scrubbedMetrics, type ReplayDeps } from '../replay/index.js'

/**
 * Runs the stages over each chunk the way `ben up` interleaves them: the raw chunk is stored,
 * then its scrubbed facts, anomalies, decisions, commands and incident facts, each group stored
 * in processing order before the next.
 */
export class LiveRecorder {
  readonly stats = { raw: 0, scrubbed: 0, anomalies: 0, decisions: 0, commands: 0, incidents: 0, failed: 0 }
  private detect = detectStage.initialState()
  private policy = policyStage.initialState()
  private act = actStage.initialState()
  private incident = incidentStage.initialState()
  private readonly scrubCfg = versioned(defaultManifest())
  private readonly detectCfg = defaultDetectorConfig()
  private readonly policyCfg: Versioned<ReturnType<typeof packValue>>
  private readonly actCfg
  private readonly incidentCfg = defaultIncidentConfig()

  constructor(
    private readonly publisher: FactPublisher,
    private readonly subjects: Subjects,
    issuer: KeyPair,
  ) {
    const pack = packValue()
    this.policyCfg = { bucket: Bucket.Policy, revision: 0, value: pack }
    const a = actConfig({ issuer, settings: pack.verbs, defaultTtlMs: pack.defaultTtlMs })
    if (!a.ok) throw a.error
    this.actCfg = { bucket: Bucket.Policy, revision: 0, value: a.value }
  }

  private readonly count = (o: PublishOutcome) => {
    if (o.status === 'failed') this.stats.failed++
  }

  private async store(facts: readonly Fact[], scrubbed = false): Promise<void> {
    for (const f of facts) {
      const subject = this.subjects.forFact(f, { scrubbed })
      if (!this.publisher.trySend(f, subject, this.count)) await this.publisher.send(f, subject, this.count)
    }
    await this.publisher.flush()
  }

  async chunk(raw: readonly RawFact[]): Promise<void> {
    await this.store(raw)
    this.stats.raw += raw.length
    const scrubbed: RawFact[] = []
    for (const f of raw) scrubbed.push(...(scrubStage.step(null, f, this.scrubCfg).out as RawFact[]))
    await this.store(scrubbed, true)
    this.stats.scrubbed += scrubbed.length
    const anomalies: AnomalyFact[] = []
    for (const s of scrubbed) {
      if (s.kind !== 'metric') continue
      const r = detectStage.step(this.detect, s as MetricFact, this.detectCfg)
      this.detect = r.state
      anomalies.push(...(r.out as AnomalyFact[]))
    }
    await this.store(anomalies)
    const decisions: DecisionFact[] = []
    for (const a of anomalies) {
      const r = policyStage.step(this.policy, a, this.policyCfg)
      this.policy = r.state
      decisions.push(...(r.out as DecisionFact[]))
    }
    await this.store(decisions)
    const commands: CommandFact[] = []
    for (const d of decisions) {
      const r = actStage.step(this.act, d, this.actCfg)
      this.act = r.state
      commands.push(...(r.out as CommandFact[]))
    }
    await this.store(commands)
    const incidents: IncidentFact[] = []
    for (const f of [...anomalies, ...decisions, ...commands]) {
      const r = incidentStage.step(this.incident, f, this.incidentCfg)
      this.incident = r.state
      incidents.push(...(r.out as IncidentFact[]))
    }
    await this.store(incidents)
    this.stats.anomalies += anomalies.length
    this.stats.decisions += decisions.length
    this.stats.commands += commands.length
    this.stats.incidents += incidents.length
  }
}

function packValue() {
  const r = defaultPack({ knownVerbs: defaultVerbs().keys() })
  if (!r.ok) throw r.error
  return r.value
}

/**
 * The baseline: the same messages the replay reads (raw facts and DERIVED from JetStream, or
 * scrubbed metrics from ClickHouse plus DERIVED's control facts), decoded where the replay
 * decodes them, with no stage run and nothing compared.
 */
export async function readOnly(deps: ReplayDeps, from: 'jetstream' | 'clickhouse'): Promise<number> {
  const codec = deps.codec ?? new FactCodec()
  const s = deps.subjects
  const open = async (stream: 'FACTS' | 'DERIVED' | 'COMMANDS', filters: string[]) => mergeReaders(await Promise.all(filters.map((f) => openStreamReader(deps.nc, streamName({}, stream), f))), bySeq)
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
  const derived = await open('DERIVED', from === 'jetstream' ? [s.scrubbedAll, s.anomalyAll, s.decisionAll, s.incidentAll] : [`${s.prefix}.scrubbed.alert.>`, s.anomalyAll, s.decisionAll, s.incidentAll])
  for (let i = await nextOf(derived); i; i = await nextOf(derived)) void i
  return n
}
