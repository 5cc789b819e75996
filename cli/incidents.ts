import type { Command } from 'commander'
import { connect, type Ben, type IncidentSummary } from '../client/index.js'
import { CliError, colors, escapeControl, formatAlias, outputOf, outputOption, printRecords, toJson, type OutputFormat } from './output.js'
import { parseSeverity, parseSince } from './tail.js'

/** Runs `fn` with a connected client (library errors map to exit codes in cli/exit.ts). */
async function withBen<T>(fn: (ben: Ben) => Promise<T>): Promise<T> {
  const ben = await connect()
  try {
    return await fn(ben)
  } finally {
    await ben.close()
  }
}

/**
 * Markdown rendered for a terminal: escapes (`throttle\_job`) undone, headings and **bold** in
 * bold (plain without colour), `code` as its text. `-o markdown` keeps the Markdown.
 */
export function renderMarkdown(md: string, c = colors()): string {
  return md
    .split('\n')
    .map((line) => {
      const h = /^(#{1,6})\s+(.*)$/.exec(line)
      const text = (h ? h[2] : line)
        .replace(/\*\*(.+?)\*\*/g, (_m, t: string) => c.bold(t))
        .replace(/`([^`]+)`/g, '$1')
        .replace(/\\([\\`*_{}[\]()#+\-.!|>~<])/g, '$1')
      return h ? c.bold(c.underline(text)) : text
    })
    .join('\n')
}

const iso = (t: number) => new Date(t).toISOString()
const entityText = (e: Readonly<Record<string, string>>) =>
  Object.entries(e)
    .filter(([k]) => k !== 'source')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')

function printList(rows: IncidentSummary[], format: OutputFormat): void {
  const cols = ['id', 'severity', 'status', 'source', 'entity', 'opened', 'updated', 'title'].map((key) => ({ key }))
  printRecords(
    format,
    cols,
    rows.map((r) => ({
      id: r.id.slice(0, 8),
      severity: r.severity,
      status: r.status === 'open' ? `open (${r.transition})` : 'resolved',
      source: r.source,
      entity: entityText(r.entity),
      opened: iso(r.openedAt),
      updated: iso(r.updatedAt),
      title: r.title,
    })),
  )
  if (format === 'table') process.stdout.write(`${rows.length} incident${rows.length === 1 ? '' : 's'}\n`)
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
  ben incidents show 1a2b3c4d -o json`,
    )

  incidents
    .command('list', { isDefault: true })
    .description('the latest state of each incident, most recently active first')
    .option('--open', 'only incidents that are not resolved')
    .option('--since <time>', 'only incidents active since (ISO 8601, or a duration like 10m, 2h)')
    .option('--severity <min>', 'minimum severity: low, medium, high, critical')
    .option('--source <pattern>', "source id, or a glob with '*' (e.g. 'web-*')")
    .option('-n, --limit <n>', 'rows at most', '100')
    .addOption(outputOption(['table', 'json', 'ndjson', 'text', 'markdown']))
    .addOption(formatAlias(['table', 'json', 'ndjson', 'text', 'markdown']))
    .addHelpText(
      'after',
      `
JSON: an array of { id, severity, status (open|resolved), transition (opened|updated|resolved),
source, entity, openedAt, updatedAt (epoch ms), title, facts (ids kept) }.

Examples:
  ben incidents list --open
  ben incidents list --severity high --since 1d -o json`,
    )
    .action(async (o: { open?: boolean; since?: string; severity?: string; source?: string; limit: string; format: string }) => {
      const format = outputOf(o)
      const limit = Number(o.limit)
      if (!Number.isInteger(limit) || limit <= 0) throw new CliError(`--limit must be a positive whole number, not '${o.limit}'`)
      const opts = { open: o.open, since: o.since ? parseSince(o.since) : undefined, severity: parseSeverity(o.severity), source: o.source, limit }
      const rows = await withBen((ben) => ben.listIncidents(opts))
      if (format === 'json') process.stdout.write(toJson(rows) + '\n')
      else if (format === 'ndjson') for (const r of rows) process.stdout.write(toJson(r) + '\n')
      else printList(rows, format)
    })

  incidents
    .command('show')
    .argument('<id>', 'incident id, or a unique prefix of it (at least 4 characters)')
    .description('the narrative of one incident, written from the facts it cites')
    .addOption(outputOption(['text', 'markdown', 'json']))
    .addOption(formatAlias(['text', 'markdown', 'json']))
    .addHelpText(
      'after',
      `
The narrative (rendered for the terminal; -o markdown for the Markdown) cites in every line its facts by the first 8 characters of
their ids. The facts are read back from ClickHouse (anomalies, decisions, commands, acks, and
the scrubbed alerts in facts) and decoded from their Avro bytes, exactly as recorded.
JSON: { incident, narrative: { markdown, sentences: [{ text, factIds }] }, facts, transitions }.

Examples:
  ben incidents show 1a2b3c4d
  ben incidents show 1a2b3c4d -o json | jq '.narrative.sentences[0]'`,
    )
    .action(async (id: string, o: { format: string }) => {
      const format = outputOf(o)
      const r = await withBen((ben) => ben.incidentReport(id))
      if (format === 'json') {
        process.stdout.write(toJson({ incident: r.incident, narrative: r.narrative, facts: r.facts, transitions: r.transitions, unreadable: r.unreadable }) + '\n')
        return
      }
      const md = escapeControl(r.narrative.markdown.endsWith('\n') ? r.narrative.markdown : r.narrative.markdown + '\n')
      process.stdout.write(format === 'markdown' ? md : renderMarkdown(md))
      for (const u of r.unreadable) process.stderr.write(`ben: could not read ${u.table} row ${u.id}: ${escapeControl(u.reason)}\n`)
    })
}
