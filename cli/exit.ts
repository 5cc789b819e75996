import { CommanderError } from 'commander'
import { CliError, escapeControl, ExitCode } from './output.js'

const UNAVAILABLE = new Set(['ben_not_running', 'nats_unreachable', 'clickhouse_unreachable', 'nats_server_missing', 'nats_server_failed', 'timeout', 'no_stream'])
const NOT_FOUND = new Set(['not_found', 'unknown_incident', 'unknown_key', 'unknown_command'])
const USAGE = new Set(['bad_config', 'bad_option', 'ambiguous', 'ambiguous_incident', 'bad_what_if', 'not_read_only', 'bad_request', 'invalid', 'bad_pattern', 'durable_conflict'])
/** Errors of these classes are expected failures even without a code. */
const EXPECTED_NAMES = new Set(['QueryError', 'MigrationError', 'ManifestError'])

export interface Failure {
  readonly exitCode: number
  /** One line for stderr, prefixed `ben:`, control bytes escaped. */
  readonly line: string
  /** An unexpected error: a bug. Its stack is printed with --debug. */
  readonly unexpected: boolean
}

/** What an error means for the user: the exit code and the one line printed. */
export function failureOf(err: unknown): Failure {
  const e = err as (Error & { code?: unknown }) | undefined
  const message = escapeControl(String(e?.message ?? err)).trim()
  const line = (m: string) => `ben: ${m}`
  if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage, line: line(message.replace(/^error: /, '')), unexpected: false }
  if (err instanceof CliError) return { exitCode: err.exitCode, line: line(message), unexpected: false }
  const code = typeof e?.code === 'string' ? e.code : undefined
  if (code !== undefined && e instanceof Error && e.constructor.name !== 'Error' && e.constructor.name !== 'SystemError') {
    const exitCode = UNAVAILABLE.has(code)
      ? ExitCode.Unavailable
      : NOT_FOUND.has(code)
        ? ExitCode.NotFound
        : USAGE.has(code) || e.name === 'QueryError'
          ? ExitCode.Usage
          : ExitCode.Failed
    return { exitCode, line: line(message), unexpected: false }
  }
  if (e && EXPECTED_NAMES.has(e.name)) return { exitCode: e.name === 'QueryError' ? ExitCode.Usage : ExitCode.Failed, line: line(message), unexpected: false }
  // Node's own errors on user-given things (a file that is not there, a port in use): expected.
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EADDRINUSE')
    return { exitCode: ExitCode.Usage, line: line(message), unexpected: false }
  return { exitCode: ExitCode.Internal, line: line(`${message || 'unexpected error'} (a bug: run again with --debug for the stack trace)`), unexpected: true }
}

/** Prints the failure (stack only with --debug / BEN_DEBUG) and sets the exit code. */
export function report(err: unknown): number {
  const f = failureOf(err)
  try {
    process.stderr.write(f.line + '\n')
    if (debugWanted()) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`)
  } catch {
    // stderr is gone: nothing left to tell
  }
  process.exitCode = f.exitCode
  return f.exitCode
}

export const debugWanted = (): boolean => process.argv.includes('--debug') || Boolean(process.env.BEN_DEBUG)
