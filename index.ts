/** Ben as a library. `import { connect } from 'ben'`. */
export { connect, Ben, QueryError, type ConnectOptions, type PublishSummary, type QueryResult, type Subscription } from './client/index.js'
export * from './schemas/index.js'
export type { Delivered, StartAt, Envelope } from './streams/index.js'
