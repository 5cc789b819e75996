import type { NatsConnection } from '@nats-io/nats-core'
import { merge, type Subscription } from 'rxjs'
import { defaultRegistry, type Fact } from '../schemas/index.js'
import { followSubjects, type Subjects } from '../streams/index.js'
import { colors, oneLine } from './output.js'

export interface LiveOptions {
  /** The explain of every fact, incident updates, no line cut to the terminal's width. */
  readonly verbose?: boolean
  /** Colour (default: on a terminal, unless NO_COLOR / --no-color). */
  readonly color?: boolean
  /** Cut lines to this width (default: the terminal's, none when not a terminal or verbose). */
  readonly width?: number
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3))
/** Ids as short unique prefixes: every command accepts them (`ben approve 4be1f0c2`). */
export const shortId = (id: string) => id.slice(0, 8)

/**
 * One compact line per derived fact — what `ben up --watch` and `npm start` show. A proposed
 * command carries the exact `ben approve` / `ben reject` line to copy. Incident updates (which
 * repeat the event that caused them) show only with `verbose`, as does every explain.
 */
export function describe(f: Fact, o: LiveOptions = {}): string | undefined {
  const c = colors(o.color === undefined ? process.stdout : { isTTY: o.color })
  const t = new Date(f.ts).toISOString().slice(11, 19)
  // Everything quoted from a fact is escaped: a source or message must not drive the terminal.
  const e = (v: unknown) => oneLine(String(v ?? ''))
  const why = (s: string | null | undefined) => (o.verbose && s ? `\n           ${e(s)}` : '')
  switch (f.kind) {
    case 'anomaly': {
      const p = f.payload
      return c.yellow(`${t} ANOMALY  ${p.severity.padEnd(8)} ${e(f.source)}  ${e(p.metric)}=${num(p.value)} score ${num(p.score)}`) + why(f.explain)
    }
    case 'decision': {
      const p = f.payload
      const cmd = p.command ? ` → ${e(p.command.verb)} on ${e(p.command.target)}` : ''
      return (
        c.cyan(`${t} DECISION ${p.outcome.padEnd(8)} ${e(f.source)}  rule ${e(p.rule ?? '(none)')}${cmd}${p.suppressed ? ` (repeat ×${p.suppressed})` : ''}`) +
        why(f.explain ?? p.reason)
      )
    }
    case 'command': {
      const p = f.payload
      const id = shortId(p.commandId)
      const head = c.magenta(`${t} COMMAND  ${p.status.padEnd(8)} ${e(p.verb)} → ${e(p.target)} ${e(p.args)}  id ${id}`)
      if (p.status === 'proposed') return `${head}\n           ${c.bold(`ben approve ${id}`)}   or   ben reject ${id} --reason "…"${why(f.explain)}`
      return head + (p.status === 'rejected' && p.reason ? `: ${e(p.reason)}` : '') + why(f.explain)
    }
    case 'ack': {
      const p = f.payload
      const ok = p.status === 'executed'
      return (
        (ok ? c.green : c.red)(`${t} ACK      ${p.status.padEnd(8)} ${e(p.verb)} on ${e(p.target)}  id ${shortId(p.commandId)}${p.reason ? ` (${e(p.reason)})` : ''}`) +
        why(f.explain)
      )
    }
    case 'incident': {
      const p = f.payload
      if (p.transition === 'updated' && !o.verbose) return undefined
      return `${t} INCIDENT ${p.transition.padEnd(8)} ${p.severity.padEnd(8)} ${e(f.source)}  ${e(p.title)}  id ${shortId(p.incidentId)}` + why(f.explain)
    }
    default:
      return undefined
  }
}

/** Cuts each line of `s` to `width` visible characters (colour codes kept whole). */
function fit(s: string, width: number | undefined): string {
  if (!width) return s
  return s
    .split('\n')
    .map((line) => {
      const visible = line.replace(/\x1b\[[0-9;]*m/g, '')
      if (visible.length <= width) return line
      let out = ''
      let n = 0
      for (let i = 0; i < line.length && n < width - 1; ) {
        const m = /^\x1b\[[0-9;]*m/.exec(line.slice(i))
        if (m) {
          out += m[0]
          i += m[0].length
        } else {
          out += line[i++]
          n++
        }
      }
      return out + '…\x1b[0m'.slice(0, line.includes('\x1b') ? 5 : 1)
    })
    .join('\n')
}

/** Prints anomalies, decisions, commands, acks and incidents as they are published. */
export function printLive(nc: NatsConnection, subjects: Subjects, opts: LiveOptions = {}, out: NodeJS.WritableStream = process.stdout): Subscription {
  const reg = defaultRegistry()
  const tty = (out as NodeJS.WriteStream).isTTY
  const width = opts.width ?? (opts.verbose || !tty ? undefined : (out as NodeJS.WriteStream).columns || 120)
  const patterns = [subjects.anomalyAll, subjects.decisionAll, subjects.cmdAll, subjects.ackAll, subjects.incidentAll]
  return merge(...patterns.map((p) => followSubjects(nc, reg, p, { deliver: 'new' }))).subscribe({
    next: (d) => {
      if (!d.result.ok) return
      const f = d.result.value as Fact
      // Low-severity anomalies are kept (tables, `ben tail`) but would drown the live view.
      if (f.kind === 'anomaly' && f.payload.severity === 'low' && !opts.verbose) return
      const line = describe(f, opts)
      if (line) out.write(fit(line, width) + '\n')
    },
    error: () => undefined,
  })
}
