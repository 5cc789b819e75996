// schemas/errors.js, not the schemas barrel (zod and the codecs): `ben` loads this at every start
import { CodedError } from '../schemas/errors.js'
export const InfraErrorCode = {
  NatsServerMissing: 'nats_server_missing',
  NatsServerFailed: 'nats_server_failed',
  NatsUnreachable: 'nats_unreachable',
  ClickHouseUnreachable: 'clickhouse_unreachable',
  NotRunning: 'ben_not_running',
  BadConfig: 'bad_config',
  StoreLocked: 'store_locked',
} as const
export type InfraErrorCode = (typeof InfraErrorCode)[keyof typeof InfraErrorCode]

/** An expected start-up failure: the CLI prints its message on one line, no stack. */
export class InfraError extends CodedError<InfraErrorCode> {
  override name = 'InfraError'
}
export const isInfraError = (err: unknown): err is InfraError => err instanceof InfraError
