import type { NatsConnection } from '@nats-io/nats-core'
import type { Fact, FactCodec, IncidentFact } from '../schemas/index.js'
import type { Subjects } from '../streams/index.js'
import type { KeyPair } from '../keys/index.js'
import type { Narrative } from '../processors/incident/index.js'
import type { CompareCounts, FactDiff } from './compare.js'
import type { ControlStats } from './control.js'
import type { TelemetryStats } from './telemetry.js'
import type { Warehouse } from '../projections/index.js'
import type { WhatIfReport } from './what-if.js'

/** What a replay reads from and where it finds the issuer key. */
export interface ReplayDeps {
  readonly nc: NatsConnection
  readonly subjects: Subjects
  readonly warehouse: Warehouse
  /** Stream / bucket name prefix (tests run several Bens on one server). Default none. */
  readonly streamPrefix?: string
  /** The act stage's signing key ($BEN_HOME/keys/issuer.key.json); without it commands are not rebuilt. */
  readonly issuer?: KeyPair | null
  readonly codec?: FactCodec
}

/** Where the raw side of the rebuild comes from. */
export const ReadFrom = {
  /** JetStream FACTS when it still holds the look-back, else ClickHouse. */
  Auto: 'auto',
  /** Raw facts from JetStream FACTS: scrub is rebuilt too. */
  JetStream: 'jetstream',
  /** Scrubbed facts from ClickHouse `facts`: the rebuild starts after scrub. */
  ClickHouse: 'clickhouse',
} as const
export type ReadFrom = (typeof ReadFrom)[keyof typeof ReadFrom]

export interface ReplayOptions {
  /** How far before the window detector/policy/incident state is warmed. Default: everything retained. */
  readonly lookbackMs?: number
  readonly read?: ReadFrom
  /** A config file (policy pack, detector config or redaction manifest) used instead of the recorded revisions. */
  readonly whatIf?: { readonly path: string; readonly text: string }
  /** Publish the rebuilt facts on core NATS under `<prefix>.replay.<run>.…` (no stream captures them). */
  readonly publish?: { readonly run: string }
  /** Called now and then with messages read so far and the expected total. */
  onProgress?(read: number, total: number): void
  /** Diffs kept in full (counts go on). Default 1,000. */
  readonly maxDiffs?: number
  /**
   * Worker threads for scrub, detect and the scrubbed compare, each owning a set of sources
   * (0: all on the calling thread). Default: $BEN_REPLAY_WORKERS, else one fewer than the cores
   * (1..4) for replays of 20,000 raw messages or more. The result is the same either way.
   */
  readonly workers?: number
}

export interface WindowSpec {
  readonly from: number
  readonly to: number
  /** Source glob (`*`, `?`); default every source. */
  readonly source?: string
}

export interface ReplayStats {
  /** Raw (or scrubbed, from ClickHouse) facts fed to the first rebuilt stage. */
  readonly inputFacts: number
  /** Recorded facts read (DERIVED + COMMANDS). */
  readonly recordedFacts: number
  readonly elapsedMs: number
  /** inputFacts per second of wall time, read + re-derive + compare. */
  readonly factsPerSecond: number
  readonly telemetry: TelemetryStats
  readonly control: ControlStats
}

export interface ReplayResult {
  readonly window: { readonly from: number; readonly to: number; readonly lookbackFrom: number | null }
  /** The sources compared (null: every source). */
  readonly sources: readonly string[] | null
  readonly readFrom: 'jetstream' | 'clickhouse'
  /** True when the raw facts were gone and the rebuild started from ClickHouse's scrubbed facts. */
  readonly startedAfterScrub: boolean
  readonly identical: boolean
  readonly counts: CompareCounts
  readonly byKind: Readonly<Record<string, CompareCounts>>
  readonly diffs: readonly FactDiff[]
  readonly whatIf?: WhatIfReport
  /** Rebuilt incident facts in scope, latest transition per incident. */
  readonly incidents: readonly IncidentFact[]
  readonly narrative?: Narrative
  /** Everything the replay had to assume or could not check. */
  readonly notes: readonly string[]
  readonly stats: ReplayStats
  /** Rebuilt non-telemetry facts of the incident (incident replays only): anomalies, decisions, commands, incidents. */
  readonly facts?: readonly Fact[]
}
