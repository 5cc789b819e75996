import { mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import pino, { type Logger as PinoLogger } from 'pino'

export type Logger = PinoLogger

/**
 * Logs as JSON lines: everything at `level` to `file` (when given), warnings and worse to stderr.
 * `forward` (a stage thread's logger) hands each line to the thread's parent instead of a file:
 * the parent writes it to its own log file (writeForwarded), so that a file has one writer.
 */
export function createLogger(opts: { level?: string; file?: string; name?: string; stderrLevel?: string; forward?: (line: string) => void } = {}): Logger {
  const level = opts.level ?? 'info'
  const streams: pino.StreamEntry[] = [{ level: (opts.stderrLevel ?? 'warn') as pino.Level, stream: collapseRepeats(pino.destination({ fd: 2, sync: true })) }]
  let sink: Writable | undefined
  if (opts.forward) {
    const forward = opts.forward
    streams.push({ level: level as pino.Level, stream: collapseRepeats({ write: (line: string) => (forward(line), true) }) })
  } else if (opts.file) {
    sink = fileSink(opts.file)
    streams.push({ level: level as pino.Level, stream: collapseRepeats(sink) })
  }
  const logger = pino({ level, name: opts.name ?? 'ben', base: undefined }, pino.multistream(streams))
  if (sink) sinks.set(logger, sink)
  return logger
}

/** The log file a logger writes (createLogger with `file`): where the lines its threads forward go. */
const sinks = new WeakMap<Logger, Writable>()
/** Files opened for forwarded lines of a parent whose logger has no file (a library caller's logger). */
const orphanSinks = new Map<string, Writable>()

/**
 * Writes a line that a stage thread logged (createLogger's `forward`) to the log file of `parent`,
 * the logger of the thread's process; if that logger has no file, to `file` (the thread's log
 * file in BEN_HOME), opened once by this thread. Either way the file has one writer. Each thread
 * used to append to ben.log through a descriptor of its own: on a full disk a write cut short
 * left part of a line, and another thread's line went on after it (a line that is not JSON).
 */
export function writeForwarded(parent: Logger, file: string, line: string): void {
  let sink = sinks.get(parent) ?? orphanSinks.get(file)
  if (!sink) orphanSinks.set(file, (sink = fileSink(file)))
  sink.write(line)
}

function fileSink(file: string): Writable {
  mkdirSync(dirname(file), { recursive: true })
  // Opened here, synchronously: a process that exits at once (a failed start) can still flush
  // its last lines, where a destination opened in the background is "not ready yet".
  const fd = openSync(file, 'a')
  return survivable(pino.destination({ fd, sync: false, maxLength: 16 << 20 }), file)
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

/** Warnings and errors with the same level, message and speaker within this window are written once, then counted. */
export const REPEAT_WINDOW_MS = 60_000

type Writable = { write(line: string): unknown; flushSync?(): void }

/**
 * Who said a line: the fields that name a service, stage, projector, unit or consumer. Two
 * speakers with the same message are two kinds of trouble (detect and a projector each
 * "restarting from the last checkpoint"): one must never hide the other.
 */
const SPEAKER_FIELDS = ['name', 'service', 'stage', 'projection', 'unit', 'worker', 'consumer', 'stream', 'bucket', 'key'] as const

function repeatKey(level: string, obj: Record<string, unknown>): string {
  return [level, String(obj.msg), ...SPEAKER_FIELDS.map((f) => (obj[f] === undefined ? '' : String(obj[f])))].join('\0')
}

/**
 * A warning or error that repeats (a restart loop while a fault persists: once 481 lines in three
 * minutes) is written the first time, then counted: when its window (REPEAT_WINDOW_MS from the
 * first) ends, one line `<msg> … repeated N times in the last 60 s` carries the count and the last
 * occurrence's fields. A kind is the level, the message and its speaker (repeatKey). So each kind
 * of trouble costs at most two lines a minute, and none is
 * lost. Info and debug lines pass untouched (they say what changed, once). `now` is for tests.
 */
export function collapseRepeats<D extends Writable>(dest: D, windowMs = REPEAT_WINDOW_MS, now: () => number = Date.now): D {
  const open = new Map<string, { start: number; count: number; last?: Record<string, unknown> }>()
  const write = dest.write.bind(dest)
  const summary = (w: { start: number; count: number; last?: Record<string, unknown> }, at: number) => {
    if (w.count === 0 || !w.last) return
    const s = Math.round((at - w.start) / 1000)
    write(JSON.stringify({ ...w.last, time: at, msg: `${String(w.last.msg)} … repeated ${w.count} times in the last ${s} s`, repeated: w.count }) + '\n')
  }
  const sweep = (all = false) => {
    const t = now()
    for (const [key, w] of open) {
      if (!all && t - w.start < windowMs) continue
      summary(w, t)
      open.delete(key)
    }
  }
  const timer = setInterval(() => sweep(), Math.max(1000, windowMs / 4))
  timer.unref()
  process.once('exit', () => {
    sweep(true)
    try {
      dest.flushSync?.()
    } catch {
      // a log that cannot be written: its lines are lost, not the exit
    }
  })
  dest.write = (line: string) => {
    const m = /^\{"level":(\d+)/.exec(line)
    if (!m || Number(m[1]) < 40) return write(line)
    let obj: Record<string, unknown>
    try {
      obj = JSON.parse(line) as Record<string, unknown>
    } catch {
      return write(line)
    }
    const key = repeatKey(m[1], obj)
    const t = now()
    const w = open.get(key)
    if (w && t - w.start < windowMs) {
      w.count++
      w.last = obj
      return true
    }
    if (w) summary(w, t)
    if (open.size >= 10_000) sweep(true)
    open.set(key, { start: t, count: 0 })
    return write(line)
  }
  return dest
}
