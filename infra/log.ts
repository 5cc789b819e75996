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
    streams.push({ level: level as pino.Level, stream: pino.destination({ fd, sync: false }) })
  }
  return pino({ level, name: opts.name ?? 'ben', base: undefined }, pino.multistream(streams))
}

/** A logger that drops everything (library use without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
