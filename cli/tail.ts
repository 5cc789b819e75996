import type { Command } from 'commander'
import type { Observable } from 'rxjs'
import { connect, isClientError, type DerivedOptions, type Since } from '../client/index.js'
import { parseDuration, type AnomalyFact, type IncidentFact, type Severity } from '../schemas/index.js'
import type { StartAt } from '../streams/index.js'
import { CliError, toJson } from './output.js'

const FRIENDLY = ['anomalies', 'incidents'] as const
type Friendly = (typeof FRIENDLY)[number]

interface TailOptions {
  all?: boolean
  last?: string
  since?: string
  limit?: string
  format: string
  source?: string
  severity?: string
  durable?: string
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .argument('<subject-pattern>', "NATS subject pattern, e.g. 'ben.fact.metric.>' or 'ben.anomaly.*.web-3'; or 'anomalies' / 'incidents'")
    .description('follow streams as JSON lines, decoding Avro')
    .option('--all', 'start from the first message kept in the stream')
    .option('--last <n>', 'start with the last n messages of each stream')
    .option('--since <time>', 'start at a time (ISO 8601, or a duration like 10m, 2h)')
    .option('-n, --limit <n>', 'stop after n messages')
    .option('--format <format>', "json (one object per line); 'text' too for anomalies and incidents", 'json')
    .option('--source <pattern>', "anomalies/incidents: source id (filtered by subject) or a glob with '*' (e.g. 'web-*')")
    .option('--severity <min>', 'anomalies/incidents: minimum severity (low < medium < high < critical)')
    .option('--durable <name>', 'anomalies/incidents: resume from the position a durable consumer of this name remembers')
    .addHelpText(
      'after',
      `
Each line: {"stream":…,"subject":…,"seq":…,"time":…,"fact":{…}} (or "error" when a message
cannot be decoded). Follows until Ctrl-C.

\`ben tail anomalies\` and \`ben tail incidents\` are the friendly forms of
\`ben tail 'ben.anomaly.>'\` and \`ben tail 'ben.incident.>'\`: each line is the decoded fact
itself (JSON), or with --format text one readable line with the explain (anomalies) or the
title (incidents). --source takes a source id or a glob ('*' matches any run of characters);
--severity keeps facts at or above it. --durable NAME keeps a durable consumer
(sub-anomalies-NAME / sub-incidents-NAME) so the next run with the same name continues where
this one stopped; --all / --since choose where a new one starts.

Examples:
  ben tail 'ben.fact.>'
  ben tail 'ben.anomaly.>' --since 1h
  ben tail 'ben.dlq.>' --all --limit 10
  ben tail anomalies --severity high --source 'web-*' --format text
  ben tail anomalies --durable ops --all | jq -c '{source, score: .payload.score}'
  ben tail incidents --since 1d --format text`,
    )
    .action(async (pattern: string, o: TailOptions) => {
      const start: StartAt = o.all ? { deliver: 'all' } : o.last ? { deliver: 'last', count: positive(o.last, '--last') } : o.since ? { deliver: 'since', time: parseSince(o.since) } : { deliver: 'new' }
      const limit = o.limit ? positive(o.limit, '--limit') : Infinity
      if ((FRIENDLY as readonly string[]).includes(pattern)) return tailDerived(pattern as Friendly, o, start, limit)
      if (o.source || o.severity || o.durable) throw new CliError(`--source, --severity and --durable go with 'ben tail anomalies' or 'ben tail incidents', not a subject pattern`)
      if (o.format !== 'json') throw new CliError(`--format must be 'json' for a subject pattern ('text' is for anomalies and incidents), not '${o.format}'`)
      const ben = await connect()
      await follow(
        ben.subscribe(pattern, start),
        (d) => {
          const line = d.result.ok
            ? { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), fact: d.result.value }
            : { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), error: d.result.error }
          return toJson(line)
        },
        limit,
      ).finally(() => ben.close())
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
      error: (err) => reject(isClientError(err) ? new CliError(err.message, 2) : new CliError((err as Error).message)),
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
  return `${iso(f.ts)}  ${p.severity.toUpperCase().padEnd(8)} ${f.source}  ${p.metric}=${num(p.value)} score ${num(p.score)} (threshold ${num(p.threshold)})  ${f.explain ?? ''}`.trimEnd()
}

function incidentText(f: IncidentFact): string {
  const p = f.payload
  return `${iso(f.ts)}  ${p.severity.toUpperCase().padEnd(8)} ${p.transition.padEnd(8)} ${p.incidentId.slice(0, 8)}  ${f.source}  ${p.title}`
}

async function tailDerived(what: Friendly, o: TailOptions, start: StartAt, limit: number): Promise<void> {
  if (o.format !== 'json' && o.format !== 'text') throw new CliError(`--format must be 'json' or 'text', not '${o.format}'`)
  if (o.durable && start.deliver === 'last') throw new CliError(`--last cannot start a durable consumer: use --all or --since`)
  const since: Since = start.deliver === 'all' ? 'all' : start.deliver === 'new' ? 'new' : start.deliver === 'since' ? start.time : { last: start.count }
  const opts: DerivedOptions = {
    source: o.source,
    severity: parseSeverity(o.severity),
    since,
    name: o.durable,
    onReject: (r) => process.stderr.write(`ben: skipped ${r.subject} #${r.seq}: ${r.reason}: ${r.message}\n`),
  }
  const ben = await connect()
  try {
    const text = o.format === 'text'
    if (what === 'anomalies') await follow(ben.anomalies(opts), (f) => (text ? anomalyText(f) : toJson(f)), limit)
    else await follow(ben.incidents(opts), (f) => (text ? incidentText(f) : toJson(f)), limit)
  } catch (err) {
    throw isClientError(err) ? new CliError(err.message, 2) : err
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
