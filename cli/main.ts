import { Command, CommanderError } from 'commander'
import { isInfraError, VERSION } from '../infra/index.js'
import { QueryError } from '../client/index.js'
import { CliError } from './output.js'
import { registerUp } from './up.js'
import { registerPublish } from './publish.js'
import { registerTail } from './tail.js'
import { registerIncidents } from './incidents.js'
import { registerQuery } from './query.js'
import { registerStreams } from './streams.js'
import { registerSimulate } from './simulate.js'
import { registerConfigCommands } from './config.js'
import { registerDetect } from './detect.js'
import { registerKeys } from './keys.js'
import { registerApprove } from './approve.js'
import { registerReplay } from './replay.js'
import { registerSidecar } from './sidecar.js'
import { registerNotify } from './notify.js'

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('ben')
    .description('Ben: an event-sourced security and observability pipeline (NATS JetStream → RxJS stages → ClickHouse)')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Environment: BEN_HOME (default .ben), BEN_NATS_URL, BEN_CLICKHOUSE_URL, BEN_PREFIX (default ben),
BEN_NATS_SERVER_BIN, BEN_LOG_LEVEL. See README.md for all of them.

Start with:
  ben up                      # in one terminal
  ben publish facts.ndjson    # in another
  ben query "SELECT count() FROM facts"`,
    )
  registerUp(program)
  registerPublish(program)
  registerTail(program)
  registerIncidents(program)
  registerQuery(program)
  registerStreams(program)
  registerSimulate(program)
  registerConfigCommands(program)
  registerDetect(program)
  registerKeys(program)
  registerApprove(program)
  registerReplay(program)
  registerSidecar(program)
  registerNotify(program)
  return program
}

/** Runs the CLI. Expected failures print one line and exit non-zero; no stack traces. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram().exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    const e = err as Error
    const expected = err instanceof CliError || isInfraError(err) || err instanceof QueryError || e?.name === 'MigrationError'
    process.stderr.write(`ben: ${e?.message ?? String(err)}\n`)
    if (!expected && process.env.BEN_DEBUG) process.stderr.write(`${e?.stack}\n`)
    process.exitCode = err instanceof CliError ? err.exitCode : expected ? 2 : 1
  }
}
