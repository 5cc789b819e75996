import type { AlertFact, AnomalyFact, MetricFact, RawFact } from '../schemas/index.js'
import { stepSafely } from '../processors/stage.js'
import { PIPELINE } from '../processors/pipeline.js'
import type { CompiledManifest } from '../processors/scrub/index.js'
import type { DetectorConfig, DetectState } from '../processors/detect/index.js'
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

const scrubStage = PIPELINE.scrub.stage
const detectStage = PIPELINE.detect.stage

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
    const r = stepSafely(scrubStage, null, f, this.scrub.at(this.scrub.revisionAt(timeMs)))
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
    const r = stepSafely(detectStage, this.detectState, f, this.detect.at(this.detect.revisionAt(timeMs)))
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
