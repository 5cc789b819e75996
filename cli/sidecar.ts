import type { Command } from 'commander'
import { isAlive, readEnv } from '../infra/index.js'
import { FsyncPolicy, isSidecarError, readStatuses, startSidecarDaemon, WhenFull, type StatusFile } from '../sidecar/index.js'
import { CliError, humanBytes, outputOf, outputOption, formatAlias, printTable, toJson } from './output.js'
import { addDoorOptions, checkDoorFlags, doorsConfig, type DoorFlags } from './doors.js'

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i
const UNIT: Record<string, number> = { b: 1, k: 1024, kb: 1000, kib: 1024, m: 1 << 20, mb: 1e6, mib: 1 << 20, g: 1 << 30, gb: 1e9, gib: 1 << 30 }

function parseSize(v: string): number {
  const m = SIZE.exec(v.trim())
  if (!m) throw new CliError(`--max-wal-bytes '${v}': expected a size such as 512MiB, 2GiB or 1000000`)
  return Math.floor(Number(m[1]) * UNIT[(m[2] ?? 'b').toLowerCase()])
}

function oneOf<T extends string>(flag: string, v: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(v)) throw new CliError(`${flag} must be one of ${values.join(', ')}, not '${v}'`)
  return v as T
}

const ago = (at: number | null | undefined, now: number): string => (at ? `${Math.max(0, Math.round((now - at) / 1000))} s ago` : '')

/** `ben sidecar`: the edge agent as a daemon, and `ben sidecar status`. */
export function registerSidecar(program: Command): void {
  const cmd = addDoorOptions(program.command('sidecar'), 'sidecar')
    .description('run the sidecar: local telemetry in (NDJSON over a Unix socket or loopback HTTP) → validate, scrub, WAL → JetStream; signed commands in, signed acks out')
    .option('--id <id>', 'the source this sidecar speaks for (facts go to ben.fact.<kind>.<id>, commands come on ben.cmd.<id>)')
    .option('--listen <address>', 'Unix socket path, or loopback host:port (default: $BEN_HOME/sidecar/<id>/sidecar.sock)')
    .option('--wal-dir <dir>', 'write-ahead log directory (default: $BEN_HOME/sidecar/<id>/wal)')
    .option('--fsync <policy>', `${Object.values(FsyncPolicy).join(', ')}`, 'batch')
    .option('--max-wal-bytes <size>', 'WAL size bound, e.g. 512MiB', '1GiB')
    .option('--when-full <policy>', 'block (wait for the bus) or refuse (answer wal_full)', 'block')
    .option('--block-timeout <ms>', 'with --when-full block: refuse after waiting this long')
    .option('--exec <verb=command...>', 'run a program for a verb: arguments as JSON on stdin; exit 0 = executed')
    .addHelpText(
      'after',
      `
NATS: BEN_NATS_URL, else the \`ben up\` running under BEN_HOME. Facts are accepted into the WAL
even while neither answers, and delivered once one does.

Examples:
  ben sidecar --id web-3
  ben sidecar --id web-3 --listen 127.0.0.1:4590 --exec set_mode=/usr/local/bin/set-mode
  curl --unix-socket .ben/sidecar/web-3/sidecar.sock --data-binary @facts.ndjson http://sidecar/facts
  ben sidecar status`,
    )
    .action(
      async (o: { id?: string; listen?: string; walDir?: string; fsync: string; maxWalBytes: string; whenFull: string; blockTimeout?: string; exec?: string[] } & DoorFlags) => {
        if (!o.id) throw new CliError('ben sidecar: --id <id> is required (the source this sidecar speaks for)')
        checkDoorFlags(o)
        const blockTimeoutMs = o.blockTimeout !== undefined ? Number(o.blockTimeout) : undefined
        if (blockTimeoutMs !== undefined && !(blockTimeoutMs >= 0)) throw new CliError(`--block-timeout must be a number of milliseconds, not '${o.blockTimeout}'`)
        const d = await startSidecarDaemon({
          id: o.id,
          ...(o.listen ? { listen: o.listen } : {}),
          ...(o.walDir ? { walDir: o.walDir } : {}),
          fsync: oneOf('--fsync', o.fsync, Object.values(FsyncPolicy)),
          maxWalBytes: parseSize(o.maxWalBytes),
          whenFull: oneOf('--when-full', o.whenFull, Object.values(WhenFull)),
          ...(blockTimeoutMs !== undefined ? { blockTimeoutMs } : {}),
          exec: o.exec ?? [],
          doors: doorsConfig(o),
          ...(o.metrics ? { metrics: o.metrics } : {}),
        }).catch((err: unknown) => {
          throw isSidecarError(err) || (err as { name?: string })?.name === 'IntakeError' || (err as { name?: string })?.name === 'TelemetryError'
            ? new CliError((err as Error).message, 2)
            : err
        })
        const s = d.sidecar.status()
        process.stdout.write(`sidecar ${o.id} listening on ${d.server.address} (key ${s.keyId}; WAL ${s.wal.dir}: ${s.wal.depthRecords} facts waiting)\n`)
        for (const door of d.doors) process.stdout.write(`  ${door.name} on ${door.address}\n`)
        if (d.metrics) process.stdout.write(`  metrics on ${d.metrics.address}/metrics\n`)
        await new Promise<void>((resolve) => {
          const stop = () => void d.stop().then(resolve, resolve)
          process.once('SIGINT', stop)
          process.once('SIGTERM', stop)
        })
        process.stdout.write(`sidecar ${o.id} stopped\n`)
      },
    )

  cmd
    .command('status')
    .description('WAL depth, oldest unsent fact, last PubAck and commands of the sidecars under $BEN_HOME (from their status files)')
    .option('--id <id>', 'only this sidecar')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .action((opts: { id?: string; format: string }) => {
      // `ben sidecar --id x status` and `ben sidecar status --id x` both work
      const o = { ...opts, id: opts.id ?? (cmd.opts() as { id?: string }).id }
      const format = outputOf(o)
      const env = readEnv()
      const all = readStatuses(env.home, o.id)
      if (all.length === 0)
        throw new CliError(
          o.id ? `no status for sidecar ${o.id} under ${env.home}/sidecar (has \`ben sidecar --id ${o.id}\` run with this BEN_HOME?)` : `no sidecar has run under ${env.home}`,
        )
      const now = Date.now()
      const rows = all.map((s) => ({ ...s, running: isAlive(s.pid) && now - s.at < 5000 }))
      if (format === 'json') {
        process.stdout.write(toJson(o.id ? rows[0] : rows) + '\n')
        return
      }
      printTable(
        ['id', 'state', 'listen', 'WAL depth', 'oldest unsent', 'last PubAck', 'delivered seq', 'WAL full', 'commands (exec/refused/failed)', 'last command'],
        rows.map((s: StatusFile & { running: boolean }) => [
          s.id,
          s.running ? (s.connected ? 'running, connected' : 'running, NATS unreachable') : `stopped (${ago(s.at, now)})`,
          s.listen ?? '',
          `${s.wal.depthRecords} (${humanBytes(s.wal.depthBytes)})`,
          s.wal.oldestUnsentSeq !== null ? `#${s.wal.oldestUnsentSeq}, ${ago(s.wal.oldestUnsentAt, now)}` : 'none',
          ago(s.drain.lastPubAckAt, now) || 'never',
          s.drain.deliveredSeq,
          `${Math.round(s.wal.fullness * 100)}% of ${humanBytes(s.wal.maxBytes)}`,
          `${s.commands.executed}/${Object.values(s.commands.refused).reduce((a, b) => a + b, 0)}/${s.commands.failed}`,
          s.commands.last
            ? `${s.commands.last.verb} ${s.commands.last.status}${s.commands.last.reason ? `: ${s.commands.last.reason}` : ''} (${ago(s.commands.last.at, now)})`
            : '',
        ]),
      )
    })
}
