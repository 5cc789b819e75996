import type { AlertFact, AnomalyFact, Fact, MetricFact, RawFact } from '../schemas/index.js'
import type { Stage, StepResult } from '../processors/stage.js'
import { scrubStage, type CompiledManifest } from '../processors/scrub/index.js'
import { detectStage, type DetectorConfig } from '../processors/detect/index.js'
import type { DetectState } from '../processors/detect/index.js'
import type { ConfigHistory } from './configs.js'

/** Where the telemetry layer's rebuilt facts go. */
export interface TelemetryOut {
  /** A rebuilt scrubbed fact (FACTS path only). */
  scrubbed(f: RawFact): void
  /** A rebuilt anomaly. */
  anomaly(f: AnomalyFact): void
}

export interface TelemetryStats {
  /** Raw facts scrubbed again (0 when the rebuild starts after scrub). */
  scrubbed: number
  /** Scrubbed metrics run through detect. */
  detected: number
  anomalies: number
  /** Inputs a stage refused (they went to the DLQ live, too). */
  rejected: number
}

/** Runs a stage step the way the live runner does: a throw is a `stage_error` rejection. */
export function safeStep<S, C, In extends Fact>(stage: Stage<S, C, In>, state: S, input: In, config: Parameters<Stage<S, C, In>['step']>[2]): StepResult<S> {
  try {
    return stage.step(state, input, config)
  } catch (err) {
    return { state, out: [], rejected: { reason: 'stage_error', message: `${stage.name} failed on fact ${input.id}: ${(err as Error).message}` } }
  }
}

/**
 * The telemetry layer: scrub (unless the rebuild starts after it) and detect, the very stage
 * objects `ben up` runs, fed in the order their live consumers saw the facts (FACTS order per
 * lane for scrub; scrubbed-metric order, which is FACTS metric order, for detect). Config
 * revisions come from the KV history at the time each fact was stored.
 */
export class Telemetry {
  readonly stats: TelemetryStats = { scrubbed: 0, detected: 0, anomalies: 0, rejected: 0 }
  private detectState: DetectState = detectStage.initialState()

  constructor(
    private readonly scrub: ConfigHistory<CompiledManifest>,
    private readonly detect: ConfigHistory<DetectorConfig>,
    private readonly out: TelemetryOut,
  ) {}

  /** A raw fact from FACTS, stored at `timeMs`. */
  raw(f: RawFact, timeMs: number): void {
    if (!scrubStage.accepts(f)) return
    const r = safeStep(scrubStage, null, f, this.scrub.at(this.scrub.revisionAt(timeMs)))
    this.stats.scrubbed++
    if (r.rejected) this.stats.rejected++
    for (const s of r.out as RawFact[]) {
      this.out.scrubbed(s)
      if (s.kind === 'metric') this.metric(s, timeMs)
    }
  }

  /** A scrubbed fact (from the rebuild, or from ClickHouse when the rebuild starts after scrub). */
  metric(f: MetricFact, timeMs: number): void {
    if (!detectStage.accepts(f)) return
    const r = safeStep(detectStage, this.detectState, f, this.detect.at(this.detect.revisionAt(timeMs)))
    this.detectState = r.state
    this.stats.detected++
    if (r.rejected) this.stats.rejected++
    for (const a of r.out as AnomalyFact[]) {
      this.stats.anomalies++
      this.out.anomaly(a)
    }
  }
}

export type PolicyInputFact = AnomalyFact | AlertFact
