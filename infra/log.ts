import { mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import pino, { type Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger

/** Logs as JSON lines: everything at `level` to `file` (when given), warnings and worse to stderr. */
export function createLogger(opts: { level?: string; file?: string; name?: string; stderrLevel?: string } = {}): Logger {
  const level = opts.level ?? 'info'
  const streams: pino.StreamEntry[] = [{ level: (opts.stderrLevel ?? 'warn') as pino.Level, stream: pino.destination({ fd: 2, sync: true }) }]
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true })
    // Opened here, synchronously: a process that exits at once (a failed start) can still flush
    // its last lines, where a destination opened in the background is "not ready yet".
    const fd = openSync(opts.file, 'a')
    streams.push({ level: level as pino.Level, stream: survivable(pino.destination({ fd, sync: false, maxLength: 16 << 20 }), opts.file) })
  }
  return pino({ level, name: opts.name ?? 'ben', base: undefined }, pino.multistream(streams))
}

/** A logger that drops everything (library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/**
 * A log file that cannot be written (its disk is full) costs log lines, never the process: a
 * write error would otherwise be an unhandled 'error' event, and a flush at exit would throw
 * before the exit handlers that stop child servers have run. Said once per kind of error on
 * stderr; writing resumes by itself when the disk has room again (up to 16 MB waits meanwhile,
 * beyond that lines are dropped).
 */
function survivable(dest: pino.DestinationStream & { on(e: 'error', l: (err: Error) => void): unknown; flushSync(): void }, file: string) {
  const said = new Set<string>()
  const say = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    if (said.has(code)) return
    said.add(code)
    try {
      process.stderr.write(`ben: cannot write the log file ${file} (${(err as Error).message}): log lines wait (up to 16 MB, then are dropped) until it can be written again\n`)
    } catch {
      // stderr gone too
    }
  }
  dest.on('error', say)
  const flushSync = dest.flushSync.bind(dest)
  dest.flushSync = () => {
    try {
      flushSync()
    } catch (err) {
      say(err)
    }
  }
  return dest
}
