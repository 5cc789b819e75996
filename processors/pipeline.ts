import { readFileSync } from 'node:fs'
import { Bucket, type StreamName, type Subjects } from '../streams/index.js'
import type { DecisionFact, Fact, MetricFact, RawFact, Result } from '../schemas/index.js'
import type { Stage } from './stage.js'
import { defaultManifest, defaultManifestText, loadManifest, scrubStage, type CompiledManifest } from './scrub/index.js'
import { defaultDetectorConfig, defaultDetectorConfigPath, detectStage, loadDetectorConfig, type DetectorConfig, type DetectState } from './detect/index.js'
import { defaultPack, defaultPackPath, loadPolicyPack, policyStage, type CompiledPack, type PolicyInput, type PolicyState } from './policy/index.js'
import { actConfig, actStage, type ActConfig, type ActState } from './act/index.js'
import { defaultVerbs, type KeyPair } from '../keys/index.js'
import { defaultIncidentConfig, incidentStage, loadIncidentConfig, type IncidentConfig, type IncidentInput, type IncidentState } from './incident/index.js'

/**
 * The stage graph: one declarative description of every processor stage — its input lanes,
 * its config (KV bucket, key, loader, built-in default), where its output goes, what state it
 * keeps and how it may be partitioned. `ben up`'s wiring (processors/wiring), `ben run`,
 * replay and what-if (replay/), the config commands (cli/config.ts) and the benches read it;
 * nothing else lists the stages.
 *
 * ```
 * FACTS ─► scrub ─► DERIVED(scrubbed) ─► detect ─► DERIVED(anomaly)
 *      DERIVED(scrubbed alert, anomaly) ─► policy ─► DERIVED(decision) ─► act ─► COMMANDS(cmd)
 * DERIVED(scrubbed alert, anomaly, decision), COMMANDS(cmd, ack) ─► incident ─► DERIVED(incident)
 * ```
 */

/** KV keys holding each stage's active config. */
export const ConfigKey = { Manifest: 'manifest', Detectors: 'detectors', Pack: 'pack', Incidents: 'incidents' } as const

/** How a stage's config is read: KV bucket and key, the loader (edge validation) and the built-in default. */
export interface ConfigSpec<C> {
  readonly bucket: Bucket
  readonly key: string
  load(text: string): Result<C, { message: string }>
  fallback(): C
}

/** A config an operator manages with `ben <command> apply|show|history`. */
export interface ConfigCommand {
  readonly command: string
  /** What it is, in words: `redaction manifest (scrub)`. */
  readonly what: string
  /** The built-in default's text (shown while nothing is applied). */
  builtinText(): string
}

/** One input lane of a stage, highest priority first. */
export interface LaneSpec {
  readonly lane: string
  readonly stream: StreamName
  filter(s: Subjects): string
  /** Subjects of the filter that a higher lane of the same stage reads: passed over here. */
  exclude?(s: Subjects): string
  /** Lanes this one replaced (their durables are deleted; see LaneInput.replaces). */
  readonly replaces?: readonly string[]
  /** The alert lane on the way to a decision: applied at once, on a connection of its own (see LaneInput.urgent). */
  readonly urgent?: true
}

/** What a stage's state is keyed by: whether splitting its input by source changes nothing. */
export const StateScope = {
  /** No state: any split works. */
  None: 'none',
  /** State per source (series, groups): split by source, per-source order kept, output unchanged. */
  PerSource: 'per-source',
  /** State across sources (fleet-wide blast-radius limits, a watermark across sources): one partition. */
  Global: 'global',
} as const
export type StateScope = (typeof StateScope)[keyof typeof StateScope]

export interface StageSpec<S = unknown, C = unknown, In extends Fact = Fact, K = C> {
  readonly name: string
  readonly stage: Stage<S, C, In>
  readonly inputs: readonly LaneSpec[]
  /** The config it is read from: its own KV key, or (act) the policy pack it follows (K ≠ C). */
  readonly config: ConfigSpec<K>
  /** Set when the config is managed by a `ben` command of its own. */
  readonly command?: ConfigCommand
  /** The output subjects, in words (documentation and `ben run --help`). */
  readonly outputs: readonly string[]
  /** Where a derived fact is published. */
  subjectFor(s: Subjects, f: Fact): string
  /** Where its outputs are stored: a restart reads what is there after its checkpoint and does not publish it again. */
  output(s: Subjects): { readonly stream: StreamName; readonly filterSubject: string }
  readonly state: StateScope
  /**
   * What an input is partitioned by (`source`: the last token of its subject, which is the
   * fact's source or command target), or null when the stage runs as one partition.
   */
  readonly partitionKey: 'source' | null
}

const knownVerbs = () => defaultVerbs().keys()

const builtinPack = (): CompiledPack => {
  const r = defaultPack({ knownVerbs: knownVerbs() })
  if (!r.ok) throw r.error
  return r.value
}

const packSpec: ConfigSpec<CompiledPack> = { bucket: Bucket.Policy, key: ConfigKey.Pack, load: (t) => loadPolicyPack(t, { knownVerbs: knownVerbs() }), fallback: builtinPack }

/** Act's config follows the policy pack (verb settings, ttl) and signs with an issuer key. */
export function actConfigOf(pack: CompiledPack, issuer: KeyPair, issuerRevokedAt: number | null = null): Result<ActConfig, { message: string }> {
  return actConfig({ issuer, settings: pack.verbs, defaultTtlMs: pack.defaultTtlMs, issuerRevokedAt })
}

const scrub: StageSpec<null, CompiledManifest, RawFact> = {
  name: scrubStage.name,
  stage: scrubStage,
  // The routine lane reads every raw subject but the alert lane's: metrics, events,
  // diagnostics, and whatever else is stored in FACTS (an unknown or mistyped lane, a
  // missing source), which is dead-lettered with the reason instead of being ignored.
  inputs: [
    { lane: 'alert', stream: 'FACTS', filter: (s) => `${s.prefix}.fact.alert.>`, urgent: true },
    { lane: 'routine', stream: 'FACTS', filter: (s) => s.factsAll, exclude: (s) => `${s.prefix}.fact.alert.>`, replaces: ['metric', 'event', 'diag'] },
  ],
  config: { bucket: Bucket.Redaction, key: ConfigKey.Manifest, load: (t) => loadManifest(t), fallback: () => defaultManifest() },
  command: { command: 'manifest', what: 'redaction manifest (scrub)', builtinText: () => defaultManifestText() },
  outputs: ['ben.scrubbed.<lane>.<source>'],
  subjectFor: (s, f) => s.forFact(f, { scrubbed: true }),
  output: (s) => ({ stream: 'DERIVED', filterSubject: s.scrubbedAll }),
  state: StateScope.None,
  partitionKey: 'source',
}

const detect: StageSpec<DetectState, DetectorConfig, MetricFact> = {
  name: detectStage.name,
  stage: detectStage,
  inputs: [{ lane: 'metric', stream: 'DERIVED', filter: (s) => `${s.prefix}.scrubbed.metric.>` }],
  config: { bucket: Bucket.Detectors, key: ConfigKey.Detectors, load: (t) => loadDetectorConfig(t), fallback: () => defaultDetectorConfig().value },
  command: { command: 'detectors', what: 'detector config (detect)', builtinText: () => readFileSync(defaultDetectorConfigPath(), 'utf8') },
  outputs: ['ben.anomaly.<severity>.<source>'],
  subjectFor: (s, f) => s.forFact(f),
  output: (s) => ({ stream: 'DERIVED', filterSubject: s.anomalyAll }),
  state: StateScope.PerSource,
  partitionKey: 'source',
}

const policy: StageSpec<PolicyState, CompiledPack, PolicyInput> = {
  name: policyStage.name,
  stage: policyStage,
  inputs: [
    { lane: 'alert', stream: 'DERIVED', filter: (s) => `${s.prefix}.scrubbed.alert.>`, urgent: true },
    { lane: 'anomaly', stream: 'DERIVED', filter: (s) => s.anomalyAll },
  ],
  config: packSpec,
  command: { command: 'policy', what: 'policy pack (policy, act)', builtinText: () => readFileSync(defaultPackPath(), 'utf8') },
  outputs: ['ben.decision.<outcome>.<source>'],
  subjectFor: (s, f) => s.forFact(f),
  output: (s) => ({ stream: 'DERIVED', filterSubject: s.decisionAll }),
  // rate and blast-radius limits count across targets
  state: StateScope.Global,
  partitionKey: null,
}

/** act's `config` is the pack it follows; the runtime turns it into an ActConfig with its issuer key (actConfigOf). */
const act: StageSpec<ActState, ActConfig, DecisionFact, CompiledPack> = {
  name: actStage.name,
  stage: actStage,
  inputs: [{ lane: 'decision', stream: 'DERIVED', filter: (s) => s.decisionAll }],
  config: packSpec,
  outputs: ['ben.cmd.<target>'],
  subjectFor: (s, f) => s.forFact(f),
  output: (s) => ({ stream: 'COMMANDS', filterSubject: s.cmdAll }),
  // its state is counters only, but whether commands depend on them is unproven: one partition
  state: StateScope.Global,
  partitionKey: null,
}

const incident: StageSpec<IncidentState, IncidentConfig, IncidentInput> = {
  name: incidentStage.name,
  stage: incidentStage,
  inputs: [
    { lane: 'alert', stream: 'DERIVED', filter: (s) => `${s.prefix}.scrubbed.alert.>` },
    { lane: 'anomaly', stream: 'DERIVED', filter: (s) => s.anomalyAll },
    { lane: 'decision', stream: 'DERIVED', filter: (s) => s.decisionAll },
    { lane: 'command', stream: 'COMMANDS', filter: (s) => s.cmdAll },
    { lane: 'ack', stream: 'COMMANDS', filter: (s) => s.ackAll },
  ],
  config: { bucket: Bucket.Incidents, key: ConfigKey.Incidents, load: (t) => loadIncidentConfig(t), fallback: () => defaultIncidentConfig().value },
  outputs: ['ben.incident.<source>'],
  subjectFor: (s, f) => s.forFact(f),
  output: (s) => ({ stream: 'DERIVED', filterSubject: s.incidentAll }),
  // the event-time watermark is the second-highest clock across sources
  state: StateScope.Global,
  partitionKey: null,
}

/** The stages in the order facts flow through them. */
export const PIPELINE = { scrub, detect, policy, act, incident } as const
export type StageName = keyof typeof PIPELINE
export const STAGE_NAMES = Object.keys(PIPELINE) as StageName[]

export function isStageName(name: string): name is StageName {
  return Object.hasOwn(PIPELINE, name)
}

/** The configs an operator manages with a command of their own (`ben manifest|detectors|policy`). */
export function configCommands(): Array<{ readonly stage: StageName; readonly config: ConfigSpec<unknown>; readonly command: ConfigCommand }> {
  return STAGE_NAMES.flatMap((n) => {
    const s = specOf(n)
    return s.command ? [{ stage: n, config: s.config, command: s.command }] : []
  })
}

/** A stage of the graph, typed loosely (for code that handles every stage alike). */
export function specOf(name: StageName): StageSpec<unknown, unknown, Fact, unknown> {
  return PIPELINE[name] as unknown as StageSpec<unknown, unknown, Fact, unknown>
}
