import { Command, CommanderError } from 'commander'
import { locateBen, VERSION } from '../infra/index.js'
import { escapeControl, exitQuietlyOnClosedPipe } from './output.js'
import { report } from './exit.js'
import { registerStatus } from './status.js'
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
import { registerRebuild } from './rebuild.js'
import { registerNotify } from './notify.js'
import { registerRun } from './run.js'

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('ben')
    .description('Ben: an event-sourced security and observability pipeline (NATS JetStream → RxJS stages → ClickHouse)')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added, so that every subcommand inherits it.
    .exitOverride()
    // One error prefix for the parser's messages and Ben's own: `ben: …`.
    .configureOutput({ outputError: (str, write) => write(`ben: ${escapeControl(str.replace(/^error: /, ''))}`) })
    .option('--home <dir>', 'the Ben to talk to, by its BEN_HOME (default: ./.ben when it holds a running Ben, else the last `ben up` of this user)')
    .option('--server <url>', 'the NATS of the Ben to talk to (like BEN_NATS_URL)')
    .option('--no-color', 'no colour (also NO_COLOR=1); colour is only ever used on a terminal')
    .option('--debug', 'print the stack trace of an unexpected error')
    .hook('preAction', (_program, action) => {
      const g = action.optsWithGlobals() as { home?: string; server?: string; debug?: boolean }
      if (g.home) process.env.BEN_HOME = g.home
      if (g.server) process.env.BEN_NATS_URL = g.server
      if (g.debug) process.env.BEN_DEBUG = '1'
      // Every command but `ben up` talks to the Ben found the way `ben status` shows.
      let top = action
      while (top.parent && top.parent.parent) top = top.parent
      if (top.name() !== 'up' && top.name() !== 'status' && !process.env.BEN_HOME && !process.env.BEN_NATS_URL) {
        const found = locateBen()
        if (found.by === 'user') process.env.BEN_HOME = found.home
      }
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 done, 1 failed (a replay differs, a publish failed), 2 bad usage, 3 partly done
(rejected lines, output cut at a limit), 4 not found, 5 Ben unreachable, 70 a bug.
Output: -o/--output table|json|ndjson|text|markdown (each command lists what it writes).

Environment: BEN_HOME (default: ./.ben when ben up runs there, else the last ben up of this user), BEN_NATS_URL, BEN_CLICKHOUSE_URL, BEN_PREFIX (default ben),
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
  registerStatus(program)
  registerRebuild(program)
  registerNotify(program)
  registerRun(program)
  return program
}

/** Runs the CLI. Expected failures print one line `ben: …` and exit with a documented code; no stack traces. */
export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe()
  // Even an error no one awaited ends in one line, not a stack trace.
  process.on('uncaughtException', (err) => process.exit(report(err)))
  process.on('unhandledRejection', (err) => process.exit(report(err)))
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // The parser printed its message already (prefixed `ben:`); help and version exit 0.
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    report(err)
  }
}
