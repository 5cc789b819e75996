export { Ben, connect, QueryError, type ConnectOptions, type PublishSummary, type QueryResult, type Subscription } from './ben.js'
