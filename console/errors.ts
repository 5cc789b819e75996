import { CodedError } from '../schemas/index.js'

/** Stable codes of the console's errors. Never reused. */
export const ConsoleErrorCode = {
  /** The listen address, TLS files or operator key name are not usable. */
  BadConfig: 'bad_config',
  /** A non-loopback address without --console-tls or --insecure-console. */
  Exposed: 'exposed',
  /** The address is taken or cannot be bound. */
  Listen: 'listen_failed',
} as const
export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode]

/** An expected start-up failure of the console: printed on one line by the CLI. */
export class ConsoleError extends CodedError<ConsoleErrorCode> {
  override name = 'ConsoleError'
}
export const isConsoleError = (err: unknown): err is ConsoleError => err instanceof ConsoleError
