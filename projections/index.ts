export { migrate, loadMigrations, statements, MigrationError, type Migration } from './migrate.js'
export { Projector, ROWS_PER_SLICE, sqlString, type ProjectorOptions, type ProjectorStats } from './projector.js'
export { factsProjection } from './facts.js'
export { COMMON_COLUMNS, TRAILER_COLUMNS, commonValues, trailerValues } from './rows.js'
export type { Projection, RowMeta } from './projection.js'
export { runReadOnlyQuery, serveQueries, querySubject, chunkReply, STREAM_MAX_ROWS, type QueryReply, type QueryRequest, type QueryChunk } from './query.js'
export { anomaliesProjection, decisionsProjection, commandsProjection, acksProjection, incidentEventsProjection, incidentsProjection } from './derived.js'
export { detachedParts, dropDetachedParts, describeDetached, type DetachedPart } from './parts.js'
export { rebuildTable, serveRebuilds, warnDetachedParts, rebuildSubject, type RebuildReply, type RebuildRequest } from './rebuild.js'
export { incidentRecord, listIncidents, type IncidentListOptions, type IncidentRecord, type IncidentSummary, type RunQuery } from './incident-report.js'
export { ReportError, ReportErrorCode, isReportError } from './errors.js'
export {
  benWarehouse,
  clientWarehouse,
  factSources,
  incidentTransitions,
  queryObjects,
  scrubbedMetrics,
  type IncidentTransition,
  type QueriesProjections,
  type ScrubbedRow,
  type Warehouse,
} from './warehouse.js'
export { pendingProposals, commandRows, commandAcks, type Proposal, type CommandRow, type AckRow } from './commands-query.js'
export { storedRawIds } from './facts-query.js'
export { factRowById, fleetSources, sourceSeries, FACT_BY_ID_TABLES, type FleetSource, type SeriesData } from './console-query.js'
