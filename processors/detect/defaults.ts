import type { CusumParams } from './cusum.js'
import type { DriftParams } from './drift.js'
import type { EnsembleParams } from './ensemble.js'
import type { EwmaParams } from './ewma.js'
import type { MadParams } from './mad.js'
import type { PcaParams } from './pca.js'
import type { RangeParams } from './range.js'
import type { FlatParams } from './flat.js'
import type { LevelParams } from './level.js'
import type { SeasonalParams } from './seasonal.js'
import type { ShiftParams } from './shift.js'
import type { SpikeParams } from './spike.js'

/**
 * Values used for whatever a config file leaves out. `default-detectors.yaml` restates the
 * tuned defaults explicitly; these are the floor below it, so that a minimal file (`{}`) works.
 */
type Weighted<P> = P & { readonly enabled: boolean; readonly weight: number }

export interface SeverityCutoffs {
  readonly medium: number
  readonly high: number
  readonly critical: number
}

export interface BuiltinDefaults {
  readonly ensemble: EnsembleParams & { readonly severity: SeverityCutoffs }
  readonly detectors: {
    readonly ewma: Weighted<EwmaParams>
    readonly cusum: Weighted<CusumParams>
    readonly mad: Weighted<MadParams>
    readonly seasonal: Weighted<Omit<SeasonalParams, 'periodMs'> & { period: number }>
    readonly shift: Weighted<ShiftParams>
    readonly spike: Weighted<SpikeParams>
    readonly range: Weighted<RangeParams>
    readonly flat: Weighted<FlatParams>
    readonly level: Weighted<LevelParams>
    readonly drift: Weighted<DriftParams>
  }
  readonly pca: Omit<PcaParams, 'dim'>
  readonly limits: { readonly maxSeries: number; readonly maxGroups: number; readonly maxLateness: number; readonly maxSeriesPerSource: number; readonly idleAfter: number }
}

export const BUILTIN_DEFAULTS: BuiltinDefaults = {
  ensemble: {
    combine: 'max',
    threshold: 0.5,
    warmup: 30,
    refractory: 0,
    refractoryDamp: 1,
    calibrate: 0,
    calibrateHalfLife: 2880,
    severity: { medium: 0.8, high: 0.94, critical: 0.985 },
  },
  detectors: {
    ewma: { enabled: true, weight: 1, alpha: 0.05, threshold: 6, warmup: 30, minSpread: 0, relSpread: 0.001 },
    cusum: { enabled: true, weight: 1, alpha: 0.01, k: 0.5, h: 10, clip: 4, warmup: 60, minSpread: 0, relSpread: 0.001 },
    mad: { enabled: true, weight: 1, window: 120, threshold: 8, warmup: 30, minSpread: 0, relSpread: 0.001 },
    seasonal: { enabled: false, weight: 1, period: 86_400_000, slots: 288, alpha: 0.02, gamma: 0.2, beta: 0.02, threshold: 6, minSeasons: 2, minSpread: 0, relSpread: 0.001 },
    shift: { enabled: true, weight: 1, alpha: 0.01, threshold: 8, confirm: 3, extreme: 10, settle: 3, warmup: 60, minSpread: 0, relSpread: 0.001 },
    // off in the floor (ewma and mad see spikes there); the shipped default enables it
    spike: { enabled: false, weight: 1, alpha: 0.01, threshold: 20, critical: 50, notable: 6, learn: 3, ratio: 5, halfLife: 2880, warmup: 1500, minSpread: 0, relSpread: 0.001 },
    // off in the floor (a minimal file keeps its old behaviour); the shipped default enables it
    range: { enabled: false, weight: 1, threshold: 0.05, halfLife: 10_000, alpha: 0.01, warmup: 1500, minZ: 4, minAge: 0 },
    flat: { enabled: false, weight: 1, threshold: 1.5, minRun: 20, halfLife: 10_000, warmup: 100 },
    // off in the floor; the shipped default enables it
    level: { enabled: false, weight: 1, window: 24, threshold: 0.05, halfLife: 30_000, alpha: 0.01, warmup: 300, minZ: 3, minAge: 0 },
    drift: { enabled: true, weight: 0, window: 288, bins: 16, threshold: 1, every: 8, boost: 2, halfLife: 144 },
  },
  pca: { components: 1, alpha: 0.01, eta: 0.01, threshold: 6, warmup: 60 },
  limits: { maxSeries: 100_000, maxGroups: 10_000, maxLateness: 0, maxSeriesPerSource: 1_000, idleAfter: 86_400_000 },
}
