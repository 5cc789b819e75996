import stringWidth from 'string-width'
import { Option, type Command } from 'commander'
import pc from 'picocolors'

/**
 * The output conventions every `ben` command follows (README "Output and exit codes"):
 * one flag `-o, --output`, one error prefix `ben:`, one table of exit codes, colour only on a
 * terminal (never with NO_COLOR or --no-color), control bytes escaped in every message,
 * a compact table whose cells are cut only on a terminal, and a quiet exit when the reader
 * of stdout goes away (`ben query … | head`).
 */

/** Exit codes: the same meaning in every command. Never reused. */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** The command ran and the answer is negative: a replay differs, a publish failed, a target refused. */
  Failed: 1,
  /** Bad usage: unknown command or flag, malformed value, unreadable file, SQL Ben refuses. */
  Usage: 2,
  /** Partly done: some input lines were rejected, or the output was cut at a limit. */
  Partial: 3,
  /** What was named does not exist: incident, command, key. */
  NotFound: 4,
  /** Ben cannot be reached: not running, NATS or ClickHouse unreachable, a time-out. */
  Unavailable: 5,
  /** A bug: an unexpected error (`--debug` shows the stack). */
  Internal: 70,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** An expected failure: printed as one line `ben: …`, no stack, with its exit code. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Usage,
  ) {
    super(message)
  }
}

export const OutputFormat = { Table: 'table', Json: 'json', Ndjson: 'ndjson', Text: 'text', Markdown: 'markdown' } as const
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat]
/** @deprecated kept for callers that still say Format. */
export type Format = OutputFormat

/**
 * Adds `-o, --output <format>` with the formats this command can write. The older
 * `--format` (and `--json` where it existed) stay as hidden aliases so scripts keep working.
 */
export function addOutputOption(cmd: Command, formats: readonly OutputFormat[], dflt: OutputFormat = formats[0]): Command {
  cmd.addOption(new Option('-o, --output <format>', `output format: ${formats.join(', ')}`).choices(formats).default(dflt))
  cmd.addOption(new Option('--format <format>', 'old name of --output').choices(formats).hideHelp())
  return cmd
}

/** The format asked for (`--output`, or the old `--format` / `--json`). */
export function outputOf(opts: object): OutputFormat {
  const o = opts as { output?: unknown; format?: unknown; json?: unknown }
  if (typeof o.format === 'string') return o.format as OutputFormat
  if (o.json === true) return OutputFormat.Json
  return (o.output as OutputFormat | undefined) ?? OutputFormat.Table
}

/** @deprecated use addOutputOption/outputOf; kept so older call sites compile. */
export function parseFormat(v: string): 'table' | 'json' {
  if (v !== 'table' && v !== 'json') throw new CliError(`--output must be 'table' or 'json', not '${escapeControl(v)}'`)
  return v
}

// Control bytes (C0 but tab and newline, DEL, C1) would move the cursor, recolour or retitle
// the terminal when input is echoed back: they are shown as \xNN instead.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g
const CONTROL_ALL = /[\x00-\x1f\x7f-\x9f]/g
const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`

/** Escapes control bytes (keeps newlines and tabs). Apply to every message that may quote input. */
export function escapeControl(s: string): string {
  return s.replace(CONTROL, hex)
}

/** One line: newlines and tabs escaped too. */
export function oneLine(s: string): string {
  return s.replace(CONTROL_ALL, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : hex(c)))
}

/** JSON for people and machines: bytes as base64, bigint as text, C1 controls and DEL escaped. */
export function toJson(value: unknown, space?: number): string {
  const s = JSON.stringify(
    value,
    (_k, v) => {
      if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64')
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
      if (typeof v === 'bigint') return v.toString()
      return v
    },
    space,
  )
  // JSON.stringify escapes C0 already; DEL and C1 are legal in JSON strings but not on a terminal.
  return s === undefined ? 'null' : s.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Colour: on a terminal only, never with NO_COLOR, --no-color or TERM=dumb; FORCE_COLOR forces it. */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv): boolean {
  if (argv.includes('--no-color') || ('NO_COLOR' in env && env.NO_COLOR !== '')) return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true
  return Boolean(stream.isTTY) && env.TERM !== 'dumb'
}

/** picocolors, switched on or off by `colorEnabled` for the given stream. */
export function colors(stream: { isTTY?: boolean } = process.stdout): ReturnType<typeof pc.createColors> {
  return pc.createColors(colorEnabled(stream))
}

/** Width of the terminal on stdout, or undefined when stdout is not a terminal. */
export const terminalWidth = (out: NodeJS.WritableStream = process.stdout): number | undefined =>
  (out as NodeJS.WriteStream).isTTY ? (out as NodeJS.WriteStream).columns || 120 : undefined

const MAX_CELL_ON_TTY = 80

function cell(v: unknown, tty: boolean): string {
  if (v === null || v === undefined) return ''
  const s = oneLine(typeof v === 'object' ? toJson(v) : String(v))
  // Cut long cells on a terminal only: piped output is for programs, which want all of it.
  return tty && s.length > MAX_CELL_ON_TTY ? s.slice(0, MAX_CELL_ON_TTY - 1) + '…' : s
}

/**
 * A compact table: a header line, then one line per row, columns two spaces apart; no borders
 * or row separators (like kubectl). Linear in the cells, so a million rows print quickly.
 */
export function printTable(head: string[], rows: unknown[][], out: NodeJS.WritableStream = process.stdout): void {
  const tty = Boolean((out as NodeJS.WriteStream).isTTY)
  const c = colors(out as { isTTY?: boolean })
  const cells = rows.map((r) => head.map((_, i) => cell(r[i], tty)))
  const width = head.map((h, i) => cells.reduce((w, r) => Math.max(w, stringWidth(r[i])), stringWidth(h)))
  const line = (r: string[], style: (s: string) => string = (s) => s) =>
    r
      .map((v, i) => (i === r.length - 1 ? style(v) : style(v) + ' '.repeat(width[i] - stringWidth(v) + 2)))
      .join('')
      .trimEnd() + '\n'
  let buf = line(
    head.map((h) => h.toUpperCase()),
    c.bold,
  )
  for (const r of cells) {
    buf += line(r)
    if (buf.length > 65_536) {
      out.write(buf)
      buf = ''
    }
  }
  out.write(buf)
}

const mdCell = (v: unknown) => cell(v, false).replace(/\|/g, '\\|')

/**
 * Writes records in the format asked for: a compact table, a JSON array, NDJSON (one object
 * per line), text (tab-separated, no header: for cut/awk) or a Markdown table.
 */
export function printRecords(
  format: OutputFormat,
  columns: Array<{ key: string; head?: string }>,
  records: ReadonlyArray<Record<string, unknown>>,
  out: NodeJS.WritableStream = process.stdout,
): void {
  switch (format) {
    case 'json':
      out.write(toJson(records) + '\n')
      return
    case 'ndjson':
      for (const r of records) out.write(toJson(r) + '\n')
      return
    case 'text':
      for (const r of records) out.write(columns.map((c) => cell(r[c.key], false).replace(/\t/g, ' ')).join('\t') + '\n')
      return
    case 'markdown':
      out.write(`| ${columns.map((c) => c.head ?? c.key).join(' | ')} |\n| ${columns.map(() => '---').join(' | ')} |\n`)
      for (const r of records) out.write(`| ${columns.map((c) => mdCell(r[c.key])).join(' | ')} |\n`)
      return
    default:
      printTable(
        columns.map((c) => c.head ?? c.key),
        records.map((r) => columns.map((c) => r[c.key])),
        out,
      )
  }
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`
}

/** Writes a notice on stderr (`ben: …`, control bytes escaped), for people; stdout stays for data. */
export function notice(message: string): void {
  process.stderr.write(`ben: ${escapeControl(message)}\n`)
}

/**
 * A reader that goes away (`| head`, a closed terminal) ends the command quietly with 0, as
 * `nats` and `kubectl` do: no EPIPE stack trace.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(process.exitCode ?? 0)
      throw err
    })
  }
}

/** `-o, --output <format>` as an Option, for builder chains: `.addOption(outputOption(['table', 'json']))`. */
export function outputOption(formats: readonly OutputFormat[], dflt: OutputFormat = formats[0]): Option {
  return new Option('-o, --output <format>', `output format: ${formats.join(', ')}`).choices(formats).default(dflt)
}

/** The old `--format`, hidden, same choices. */
export function formatAlias(formats: readonly OutputFormat[]): Option {
  return new Option('--format <format>', 'old name of --output').choices(formats).hideHelp()
}
