/** The replay engine's public door: rebuild, verify, what-if. See README.md. */
export { replayIncident, replayWindow, findIncident, type IncidentScope } from './replay.js'
export { ReadFrom, type ReplayDeps, type ReplayOptions, type ReplayResult, type ReplayStats, type WindowSpec } from './types.js'
export { DiffStatus, type FactDiff, type CompareCounts } from './compare.js'
export type { FieldDiff } from './diff.js'
export { loadWhatIf, type WhatIfConfig, type WhatIfReport, type WhatIfChange, type Summary as WhatIfSummary } from './what-if.js'
export { benWarehouse, clientWarehouse, type Warehouse } from '../projections/index.js'
export { replayDeps } from './deps.js'
export { parseDuration, parseTime } from './time.js'
export { ReplayError, ReplayErrorCode, isReplayError } from './errors.js'
/** Low-level readers (benches, tools): ordered snapshot readers over JetStream, paged scrubbed metrics from ClickHouse. */
export { openStreamReader, mergeReaders, nextOf, bySeq, byTime, type Item, type Reader } from '../streams/index.js'
export { scrubbedMetrics } from '../projections/index.js'
export { replayWorkers } from './parallel.js'
