import type { Command } from 'commander'
import type { Observable } from 'rxjs'
// Leaf modules, not the barrels (client/index.ts, streams/index.ts): each `ben` command is a process of its own, and the barrels load all of Ben.
import { connect } from '../client/ben.js'
import { isClientError } from '../client/errors.js'
import type { DerivedOptions, Since } from '../client/index.js'
import type { AnomalyFact, IncidentFact, Severity } from '../schemas/index.js'
import { parseDuration } from '../schemas/duration.js'
import type { StartAt } from '../streams/index.js'
import { validatePattern } from '../streams/subjects.js'
import { addOutputOption, CliError, ExitCode, notice, oneLine, outputOf, toJson } from './output.js'

const FRIENDLY = ['anomalies', 'incidents'] as const
type Friendly = (typeof FRIENDLY)[number]

interface TailOptions {
  all?: boolean
  new?: boolean
  last?: string
  since?: string
  limit?: string
  follow: boolean
  format: string
  source?: string
  severity?: string
  durable?: string
}

export function registerTail(program: Command): void {
  const cmd = program
    .command('tail')
    .argument('<subject-pattern>', "NATS subject pattern, e.g. 'ben.fact.metric.>' or 'ben.anomaly.*.web-3'; or 'anomalies' / 'incidents'")
    .description('follow streams as JSON lines, decoding Avro')
    .option('--last <n>', 'start with the last n matching messages (default 10, like tail)')
    .option('--all', 'start from the first message kept in the stream')
    .option('--since <time>', 'start at a time (ISO 8601, or a duration like 10m, 2h)')
    .option('--new', 'only messages published from now on')
    .option('--no-follow', 'print what is there and exit, instead of following')
    .option('-n, --limit <n>', 'stop after n messages')
    .option('--source <pattern>', "anomalies/incidents: source id (filtered by subject) or a glob with '*' (e.g. 'web-*')")
    .option('--severity <min>', 'anomalies/incidents: minimum severity (low < medium < high < critical)')
    .option('--durable <name>', 'anomalies/incidents: resume from the position a durable consumer of this name remembers')
    .addHelpText(
      'after',
      `
Each line: {"stream":…,"subject":…,"seq":…,"time":…,"fact":{…}} (or "error" when a message
cannot be decoded). Like tail: the last 10 first, then it follows until Ctrl-C (--no-follow
stops at the end; --last N, --all, --since, --new choose where it starts).

\`ben tail anomalies\` and \`ben tail incidents\` are the friendly forms of
\`ben tail 'ben.anomaly.>'\` and \`ben tail 'ben.incident.>'\`: each line is the decoded fact
itself (JSON), or with -o text one readable line with the explain (anomalies) or the
title (incidents). --source takes a source id or a glob ('*' matches any run of characters);
--severity keeps facts at or above it. --durable NAME keeps a durable consumer
(sub-anomalies-NAME / sub-incidents-NAME) so the next run with the same name continues where
this one stopped; --all / --since choose where a new one starts.

Examples:
  ben tail 'ben.fact.>'
  ben tail 'ben.anomaly.>' --since 1h
  ben tail 'ben.dlq.>' --all --limit 10
  ben tail anomalies --severity high --source 'web-*' -o text
  ben tail anomalies --last 50 --no-follow -o text
  ben tail anomalies --durable ops --all | jq -c '{source, score: .payload.score}'
  ben tail incidents --since 1d -o text`,
    )
  addOutputOption(cmd, ['json', 'ndjson', 'text'], 'json')
  cmd.action(async (pattern: string, o: TailOptions) => {
    o.format = outputOf(o)
    const chosen = [o.all && '--all', o.last && '--last', o.since && '--since', o.new && '--new'].filter(Boolean)
    if (chosen.length > 1) throw new CliError(`${chosen.join(' and ')} both say where to start: give one`)
    const start: StartAt = o.all
      ? { deliver: 'all' }
      : o.last
        ? { deliver: 'last', count: positive(o.last, '--last') }
        : o.since
          ? { deliver: 'since', time: parseSince(o.since) }
          : o.new || o.durable
            ? { deliver: 'new' } // a new durable starts with what comes; an existing one resumes
            : { deliver: 'last', count: 10 }
    const limit = o.limit ? positive(o.limit, '--limit') : Infinity
    if ((FRIENDLY as readonly string[]).includes(pattern)) return tailDerived(pattern as Friendly, o, start, limit)
    if (o.source || o.severity || o.durable) throw new CliError(`--source, --severity and --durable go with 'ben tail anomalies' or 'ben tail incidents', not a subject pattern`)
    if (o.format === 'text') throw new CliError(`-o text is for 'ben tail anomalies' and 'ben tail incidents'; a subject pattern prints JSON lines`)
    // A malformed pattern is refused before anything is connected (nothing left to hang on).
    const bad = validatePattern(pattern)
    if (bad) throw new CliError(bad)
    const ben = await connect()
    try {
      await follow(
        ben.subscribe(pattern, start, { follow: o.follow }),
        (d) => {
          const line = d.result.ok
            ? { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), fact: d.result.value }
            : { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), error: d.result.error }
          return toJson(line)
        },
        limit,
      )
    } finally {
      await ben.close()
    }
  })
}

/** Prints each item as a line until the limit, Ctrl-C, or an error. */
function follow<T>(source: Observable<T>, line: (v: T) => string, limit: number): Promise<void> {
  let n = 0
  let sub: { unsubscribe(): void } | undefined
  return new Promise<void>((resolve, reject) => {
    sub = source.subscribe({
      next: (v) => {
        process.stdout.write(line(v) + '\n')
        if (++n >= limit) {
          sub?.unsubscribe()
          resolve()
        }
      },
      error: (err) => reject(isClientError(err) ? err : new CliError((err as Error).message, ExitCode.Unavailable)),
      complete: () => resolve(),
    })
    if (n >= limit) sub.unsubscribe()
    const stop = () => {
      sub?.unsubscribe()
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}

const SEVERITIES = ['low', 'medium', 'high', 'critical']

export function parseSeverity(v: string | undefined): Severity | undefined {
  if (v === undefined) return undefined
  if (!SEVERITIES.includes(v)) throw new CliError(`--severity must be one of ${SEVERITIES.join(', ')}, not '${v}'`)
  return v as Severity
}

const iso = (t: number) => new Date(t).toISOString()
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4))

function anomalyText(f: AnomalyFact): string {
  const p = f.payload
  return oneLine(
    `${iso(f.ts)}  ${p.severity.toUpperCase().padEnd(8)} ${f.source}  ${p.metric}=${num(p.value)} score ${num(p.score)} (threshold ${num(p.threshold)})  ${f.explain ?? ''}`.trimEnd(),
  )
}

function incidentText(f: IncidentFact): string {
  const p = f.payload
  return oneLine(`${iso(f.ts)}  ${p.severity.toUpperCase().padEnd(8)} ${p.transition.padEnd(8)} ${p.incidentId.slice(0, 8)}  ${f.source}  ${p.title}`)
}

async function tailDerived(what: Friendly, o: TailOptions, start: StartAt, limit: number): Promise<void> {
  if (o.durable && o.last) throw new CliError(`--last cannot start a durable consumer: use --all or --since`)
  if (o.durable && !o.follow) throw new CliError(`--no-follow goes without --durable (a durable consumer remembers where it stopped; stop it with --limit)`)
  const since: Since = start.deliver === 'all' ? 'all' : start.deliver === 'new' ? 'new' : start.deliver === 'since' ? start.time : { last: start.count }
  const opts: DerivedOptions = {
    source: o.source,
    severity: parseSeverity(o.severity),
    since,
    name: o.durable,
    ...(o.durable ? {} : { follow: o.follow }),
    onReject: (r) => notice(`skipped ${r.subject} #${r.seq}: ${r.reason}: ${r.message}`),
  }
  const ben = await connect()
  try {
    const text = o.format === 'text'
    if (what === 'anomalies') await follow(ben.anomalies(opts), (f) => (text ? anomalyText(f) : toJson(f)), limit)
    else await follow(ben.incidents(opts), (f) => (text ? incidentText(f) : toJson(f)), limit)
  } finally {
    await ben.close()
  }
}

function positive(v: string, flag: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive whole number, not '${v}'`)
  return n
}

/** ISO time or a duration back from now: 30s, 10m, 2h, 1d. */
export function parseSince(v: string): Date {
  const back = /^\d+$/.test(v.trim()) ? undefined : parseDuration(v)
  if (back !== undefined) return new Date(Date.now() - back)
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) throw new CliError(`--since must be an ISO time or a duration like 10m, not '${v}'`)
  return d
}
