/** Public door of the detect stage. */
export { detectStage, detect, DETECT_STAGE, DETECT_VERSION } from './stage.js'
export { boundHeapGrowth, heapGrowthBounded, keepDefaultHeapGrowth, DETECT_HEAP_BOUND_SERIES, DETECT_HEAP_GROWTH_PERCENT } from './heap.js'
export { loadDetectorConfig, compileDetectorConfig, type DetectorConfig, type SeriesSettings, type GroupSettings, type GroupMember, type DetectorLimits } from './config.js'
export { defaultDetectorConfig, defaultDetectorConfigPath, readDetectorConfig, DETECTORS_BUCKET } from './default-config.js'
export { DetectorConfigSpec, Duration } from './schema.js'
export { BUILTIN_DEFAULTS, type SeverityCutoffs } from './defaults.js'
export { DetectorName, Floor, scoreOf, saturate, emptyReading, type Detector, type DetectorUpdate, type Point, type Reading } from './detector.js'
export { ewmaDetector, type EwmaParams, type EwmaState } from './ewma.js'
export { cusumDetector, type CusumParams, type CusumState } from './cusum.js'
export { madDetector, type MadParams, type MadState } from './mad.js'
export { seasonalDetector, type SeasonalParams, type SeasonalState } from './seasonal.js'
export { shiftDetector, type ShiftParams, type ShiftState } from './shift.js'
export { spikeDetector, type SpikeParams, type SpikeState } from './spike.js'
export { rangeDetector, type RangeParams, type RangeState } from './range.js'
export { flatDetector, type FlatParams, type FlatState } from './flat.js'
export { levelDetector, type LevelParams, type LevelState } from './level.js'
export { driftDetector, type DriftParams, type DriftState } from './drift.js'
export { pcaDetector, type PcaParams, type PcaState, type VectorPoint } from './pca.js'
export { buildEnsemble, Combine, type Ensemble, type EnsembleParams, type EnsembleReading, type EnsembleState, type MemberParams } from './ensemble.js'
export { newDetectState, serializeDetectState, deserializeDetectState, type DetectState, type SerializedDetectState, type SeriesRecord, type GroupRecord } from './state.js'
export { severityOf, labelsKey } from './explain.js'
export { detectCsv, type DetectCsvOptions, type DetectCsvSummary } from './offline.js'
export { parseTimestamp } from './csv.js'
export {
  NAB_PROFILES,
  optimiseThreshold,
  scoreFile,
  sweepScores,
  scaledSigmoid,
  probationLength,
  type NabFile,
  type NabProfile,
  type FileResult,
  type Optimum,
} from './nab-scorer.js'
export { DetectError, DetectErrorCode, isDetectError, isBadDetectorConfig } from './errors.js'
export { prng, gaussian, series as syntheticSeries, type SeriesSpec, type SyntheticPoint } from './synthetic.js'
