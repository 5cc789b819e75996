import { Option, type Command } from 'commander'
// Leaf modules, not the barrels (client/index.ts, streams/index.ts): each `ben` command is a process of its own, and the barrels load all of Ben.
import { connect } from '../client/ben.js'
import { addOutputOption, CliError, ExitCode, notice, outputOf, printRecords, toJson, type OutputFormat } from './output.js'

/** Writes rows as they arrive: JSON array, NDJSON or text stream; table and Markdown wait for all rows (column widths). */
function rowWriter(format: OutputFormat, out: NodeJS.WritableStream) {
  let columns: Array<{ name: string }> = []
  let n = 0
  const held: Array<Record<string, unknown>> = []
  const obj = (r: unknown[]) => Object.fromEntries(columns.map((c, i) => [c.name, r[i]]))
  return {
    rows(rows: unknown[][], cols: Array<{ name: string }>) {
      columns = cols
      for (const r of rows) {
        if (format === 'json') out.write((n === 0 ? '[' : ',\n') + toJson(obj(r)))
        else if (format === 'ndjson') out.write(toJson(obj(r)) + '\n')
        else held.push(obj(r))
        n++
      }
      if (format === 'text' && held.length) {
        printRecords(
          'text',
          columns.map((c) => ({ key: c.name })),
          held.splice(0),
          out,
        )
      }
    },
    end() {
      if (format === 'json') out.write(n === 0 ? '[]\n' : ']\n')
      else if (format === 'table' || format === 'markdown')
        printRecords(
          format,
          columns.map((c) => ({ key: c.name })),
          held,
          out,
        )
      return n
    },
  }
}

export function registerQuery(program: Command): void {
  const cmd = program
    .command('query')
    .argument('<sql>', 'a read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)')
    .description('query the ClickHouse projections (read-only); rows stream out as they come')
    .option('-n, --limit <n>', 'rows at most (default: all of them)')
    .addOption(new Option('--max-rows <n>', 'old name of --limit').hideHelp())
    .addHelpText(
      'after',
      `
Tables: facts, anomalies, decisions, commands, acks, incidents, incident_events.
With the embedded ClickHouse the query runs inside \`ben up\`; with BEN_CLICKHOUSE_URL it runs
directly against the server. json, ndjson and text are written as the rows arrive; every row
comes out (\`ben up\` holds at most 1,000,000 rows of one answer: when that cuts the output,
the last line on stderr says so and the exit code is 3). --limit N stops after N rows.

Examples:
  ben query "SELECT source, count() FROM facts GROUP BY source ORDER BY source"
  ben query "SELECT ts, name, value FROM facts WHERE source = 'web-3' ORDER BY ts DESC LIMIT 10"
  ben query "SELECT count() AS n FROM facts" -o json
  ben query "SELECT * FROM facts" -o ndjson | jq -c .labels
  ben query "SELECT * FROM anomalies" -o markdown --limit 20`,
    )
  addOutputOption(cmd, ['table', 'json', 'ndjson', 'text', 'markdown'])
  cmd.action(async (sql: string, o: { limit?: string; maxRows?: string } & Record<string, unknown>) => {
    const format = outputOf(o)
    const limitText = o.limit ?? o.maxRows
    const limit = limitText === undefined ? undefined : Number(limitText)
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new CliError(`--limit must be a positive whole number, not '${limitText}'`)
    const ben = await connect({ subscriptions: false })
    try {
      const w = rowWriter(format, process.stdout)
      // One more row than asked tells whether --limit cut anything.
      let seen = 0
      const r = await ben.queryEach(
        sql,
        (rows, columns) => {
          const take = limit === undefined ? rows : rows.slice(0, Math.max(0, limit - seen))
          seen += rows.length
          w.rows(take, columns)
        },
        { maxRows: limit === undefined ? undefined : limit + 1 },
      )
      const n = w.end()
      const cutByLimit = limit !== undefined && r.rows > limit
      if (format === 'table') process.stdout.write(`${n} row${n === 1 ? '' : 's'}${cutByLimit ? ` (--limit ${limit}: there are more)` : ''}\n`)
      if (r.truncated && !cutByLimit) {
        notice(`output cut at ${n} rows: that is what ben up holds for one answer; narrow the query (WHERE, LIMIT) or page with LIMIT … OFFSET …`)
        process.exitCode = ExitCode.Partial
      }
    } finally {
      await ben.close()
    }
  })
}
