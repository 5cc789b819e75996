/** Ben as a library. `import { connect } from 'ben'`. */
export {
  connect,
  Ben,
  QueryError,
  ClientError,
  ClientErrorCode,
  isClientError,
  type ConnectOptions,
  type PublishSummary,
  type QueryResult,
  type Subscription,
  type DerivedOptions,
  type Since,
  type RejectedDelivery,
  type IncidentListOptions,
  type IncidentReport,
  type IncidentSummary,
} from './client/index.js'
export * from './schemas/index.js'
export type { Delivered, StartAt, Envelope } from './streams/index.js'
export {
  replayIncident,
  replayWindow,
  replayDeps,
  findIncident,
  loadWhatIf,
  ReplayError,
  isReplayError,
  type ReplayOptions,
  type ReplayResult,
  type WindowSpec,
  type FactDiff,
} from './replay/index.js'
export { createSidecar } from './sidecar/index.js'
export { scrubFact, type ScrubFactResult } from './processors/scrub/index.js'
