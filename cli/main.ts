import { Command, CommanderError } from 'commander'
// Deep imports on purpose: the barrels (infra/index.ts) load the whole of Ben, and every `ben`
// start paid for it (about 1 s of CPU). Commands are loaded the same way: only the one that runs.
import { VERSION } from '../infra/version.js'
import { escapeControl, exitQuietlyOnClosedPipe } from './output.js'
import { report } from './exit.js'

type Register = (program: Command) => void

/**
 * Every command, in the order `ben --help` lists them, with the module that defines it. A module
 * is imported only when one of its commands runs; help, no command and an unknown name load them
 * all, so the help text and the parser's "unknown command (did you mean …)" are the full ones.
 * cli/main.test.ts checks these names against what each module registers.
 */
export const COMMANDS: ReadonlyArray<{ readonly names: readonly string[]; load(): Promise<Register> }> = [
  { names: ['up'], load: async () => (await import('./up.js')).registerUp },
  { names: ['publish'], load: async () => (await import('./publish.js')).registerPublish },
  { names: ['tail'], load: async () => (await import('./tail.js')).registerTail },
  { names: ['incidents'], load: async () => (await import('./incidents.js')).registerIncidents },
  { names: ['query'], load: async () => (await import('./query.js')).registerQuery },
  { names: ['streams'], load: async () => (await import('./streams.js')).registerStreams },
  { names: ['simulate'], load: async () => (await import('./simulate.js')).registerSimulate },
  { names: ['manifest', 'detectors', 'policy'], load: async () => (await import('./config.js')).registerConfigCommands },
  { names: ['detect'], load: async () => (await import('./detect.js')).registerDetect },
  { names: ['keys'], load: async () => (await import('./keys.js')).registerKeys },
  { names: ['approve', 'reject'], load: async () => (await import('./approve.js')).registerApprove },
  { names: ['replay'], load: async () => (await import('./replay.js')).registerReplay },
  { names: ['sidecar'], load: async () => (await import('./sidecar.js')).registerSidecar },
  { names: ['status'], load: async () => (await import('./status.js')).registerStatus },
  { names: ['rebuild'], load: async () => (await import('./rebuild.js')).registerRebuild },
  { names: ['notify'], load: async () => (await import('./notify.js')).registerNotify },
  { names: ['run', 'orchestrator'], load: async () => (await import('./run.js')).registerRun },
]

/** Global options that take a value (`--home <dir>`), skipped when looking for the command name. */
const GLOBAL_WITH_VALUE = new Set(['--home', '--server'])

/**
 * The command an argv names, as the parser will see it: the first word that is not a global
 * option (or its value). `null` when no command is needed (`ben --version`); undefined when every
 * command must be known (no command, `--help` before one, `help`, an unknown name).
 */
export function commandOf(args: readonly string[]): string | null | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--') return undefined
    if (GLOBAL_WITH_VALUE.has(a)) {
      i++
      continue
    }
    if (a === '-V' || a === '--version') return null
    if (a === '-h' || a === '--help') return undefined
    if (a.startsWith('-')) continue
    return COMMANDS.some((c) => c.names.includes(a)) ? a : undefined
  }
  return undefined
}

/** The parser with the commands that `args` (argv without node and script) needs; every command when `args` is omitted. */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
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
    .hook('preAction', async (_program, action) => {
      const g = action.optsWithGlobals() as { home?: string; server?: string; debug?: boolean }
      if (g.home) process.env.BEN_HOME = g.home
      if (g.server) process.env.BEN_NATS_URL = g.server
      if (g.debug) process.env.BEN_DEBUG = '1'
      // Every command but `ben up` talks to the Ben found the way `ben status` shows.
      let top = action
      while (top.parent && top.parent.parent) top = top.parent
      if (top.name() !== 'up' && top.name() !== 'status' && !process.env.BEN_HOME && !process.env.BEN_NATS_URL) {
        const { locateBen } = await import('../infra/locate.js')
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
  const name = args === undefined ? undefined : commandOf(args)
  const needed = name === null ? [] : COMMANDS.filter((c) => name === undefined || c.names.includes(name))
  for (const register of await Promise.all(needed.map((c) => c.load()))) register(program)
  return program
}

/** Runs the CLI. Expected failures print one line `ben: …` and exit with a documented code; no stack traces. */
export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedPipe()
  // Even an error no one awaited ends in one line, not a stack trace.
  process.on('uncaughtException', (err) => process.exit(report(err)))
  process.on('unhandledRejection', (err) => process.exit(report(err)))
  const program = await buildProgram(argv.slice(2))
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
