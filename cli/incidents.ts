import type { Command } from 'commander'
import { connect, isClientError, type Ben, type IncidentSummary } from '../client/index.js'
import { CliError, printTable, toJson } from './output.js'
import { parseSeverity, parseSince } from './tail.js'

/** Runs `fn` with a connected client; library errors become one-line CLI errors. */
async function withBen<T>(fn: (ben: Ben) => Promise<T>): Promise<T> {
  const ben = await connect()
  try {
    return await fn(ben)
  } catch (err) {
    if (isClientError(err)) throw new CliError(err.message, 2)
    throw err
  } finally {
    await ben.close()
  }
}

const iso = (t: number) => new Date(t).toISOString()
const entityText = (e: Readonly<Record<string, string>>) =>
  Object.entries(e)
    .filter(([k]) => k !== 'source')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')

function printList(rows: IncidentSummary[]): void {
  printTable(
    ['id', 'severity', 'status', 'source', 'entity', 'opened', 'updated', 'title'],
    rows.map((r) => [r.id.slice(0, 8), r.severity, r.status === 'open' ? `open (${r.transition})` : 'resolved', r.source, entityText(r.entity), iso(r.openedAt), iso(r.updatedAt), r.title]),
  )
  process.stdout.write(`${rows.length} incident${rows.length === 1 ? '' : 's'}\n`)
}

export function registerIncidents(program: Command): void {
  const incidents = program
    .command('incidents')
    .description('incidents Ben has opened: list them, or show one as a narrative')
    .addHelpText(
      'after',
      `
Reads the incidents and incident_events tables (through \`ben up\`, or BEN_CLICKHOUSE_URL).

Examples:
  ben incidents                               # = ben incidents list
  ben incidents list --open --since 2h
  ben incidents show 1a2b3c4d                 # id or a unique prefix, as the list prints it
  ben incidents show 1a2b3c4d --format json`,
    )

  incidents
    .command('list', { isDefault: true })
    .description('the latest state of each incident, most recently active first')
    .option('--open', 'only incidents that are not resolved')
    .option('--since <time>', 'only incidents active since (ISO 8601, or a duration like 10m, 2h)')
    .option('--severity <min>', 'minimum severity: low, medium, high, critical')
    .option('--source <pattern>', "source id, or a glob with '*' (e.g. 'web-*')")
    .option('-n, --limit <n>', 'rows at most', '100')
    .option('--format <format>', 'table or json', 'table')
    .addHelpText(
      'after',
      `
JSON: an array of { id, severity, status (open|resolved), transition (opened|updated|resolved),
source, entity, openedAt, updatedAt (epoch ms), title, facts (ids kept) }.

Examples:
  ben incidents list --open
  ben incidents list --severity high --since 1d --format json`,
    )
    .action(async (o: { open?: boolean; since?: string; severity?: string; source?: string; limit: string; format: string }) => {
      if (o.format !== 'table' && o.format !== 'json') throw new CliError(`--format must be 'table' or 'json', not '${o.format}'`)
      const limit = Number(o.limit)
      if (!Number.isInteger(limit) || limit <= 0) throw new CliError(`--limit must be a positive whole number, not '${o.limit}'`)
      const opts = { open: o.open, since: o.since ? parseSince(o.since) : undefined, severity: parseSeverity(o.severity), source: o.source, limit }
      const rows = await withBen((ben) => ben.listIncidents(opts))
      if (o.format === 'json') process.stdout.write(toJson(rows) + '\n')
      else printList(rows)
    })

  incidents
    .command('show')
    .argument('<id>', 'incident id, or a unique prefix of it (at least 4 characters)')
    .description('the narrative of one incident, written from the facts it cites')
    .option('--format <format>', 'markdown or json', 'markdown')
    .addHelpText(
      'after',
      `
The narrative is Markdown in which every line cites its facts by the first 8 characters of
their ids. The facts are read back from ClickHouse (anomalies, decisions, commands, acks, and
the scrubbed alerts in facts) and decoded from their Avro bytes, exactly as recorded.
JSON: { incident, narrative: { markdown, sentences: [{ text, factIds }] }, facts, transitions }.

Examples:
  ben incidents show 1a2b3c4d
  ben incidents show 1a2b3c4d --format json | jq '.narrative.sentences[0]'`,
    )
    .action(async (id: string, o: { format: string }) => {
      if (o.format !== 'markdown' && o.format !== 'json') throw new CliError(`--format must be 'markdown' or 'json', not '${o.format}'`)
      const r = await withBen((ben) => ben.incidentReport(id))
      if (o.format === 'json') {
        process.stdout.write(toJson({ incident: r.incident, narrative: r.narrative, facts: r.facts, transitions: r.transitions, unreadable: r.unreadable }) + '\n')
        return
      }
      process.stdout.write(r.narrative.markdown.endsWith('\n') ? r.narrative.markdown : r.narrative.markdown + '\n')
      for (const u of r.unreadable) process.stderr.write(`ben: could not read ${u.table} row ${u.id}: ${u.reason}\n`)
    })
}
