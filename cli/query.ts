import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { parseFormat, printTable, toJson } from './output.js'

export function registerQuery(program: Command): void {
  program
    .command('query')
    .argument('<sql>', 'a read-only SQL statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)')
    .description('query the ClickHouse projections (read-only)')
    .option('--format <format>', 'table or json', 'table')
    .option('--max-rows <n>', 'rows returned at most', '10000')
    .addHelpText(
      'after',
      `
Tables: facts (and, with the processor chain, anomalies, decisions, commands, acks, incidents).
With the embedded ClickHouse the query runs inside \`ben up\`; with BEN_CLICKHOUSE_URL it runs
directly against the server.

Examples:
  ben query "SELECT source, count() FROM facts GROUP BY source ORDER BY source"
  ben query "SELECT ts, name, value FROM facts WHERE source = 'web-3' ORDER BY ts DESC LIMIT 10"
  ben query "SELECT count() AS n FROM facts" --format json`,
    )
    .action(async (sql: string, o: { format: string; maxRows: string }) => {
      const format = parseFormat(o.format)
      const ben = await connect()
      try {
        const r = await ben.query(sql, { maxRows: Number(o.maxRows) })
        if (format === 'json') process.stdout.write(toJson(r.objects()) + '\n')
        else {
          printTable(
            r.columns.map((c) => c.name),
            r.rows,
          )
          process.stdout.write(`${r.rows.length} row${r.rows.length === 1 ? '' : 's'}${r.truncated ? ' (truncated: use LIMIT or --max-rows)' : ''}\n`)
        }
      } finally {
        await ben.close()
      }
    })
}
