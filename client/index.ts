export { Ben, connect, QueryError, type ConnectOptions, type PublishSummary, type QueryResult } from './ben.js'
export type { Subscription, DerivedOptions, Since, RejectedDelivery } from './subscriptions.js'
export type { IncidentListOptions, IncidentReport, IncidentSummary } from './incident-report.js'
export { ClientError, ClientErrorCode, isClientError } from './errors.js'
