import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { rebuildSubject, type RebuildReply } from '../projections/index.js'
import { CliError, parseFormat, toJson } from './output.js'

/** `ben rebuild <table>`: the running `ben up` projects the table again from JetStream. */
export function registerRebuild(program: Command): void {
  program
    .command('rebuild')
    .argument('<table>', 'a projection table: facts, anomalies, decisions, commands, acks, incident_events, incidents')
    .description('re-project a ClickHouse table from JetStream (after a broken or detached part), saying what was missing')
    .option('--format <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `\nThe running \`ben up\` empties the table, follows the streams from their first message and\ndrops the table's detached parts once their rows are back. \`ben up\` warns at start when ClickHouse\nhas moved a part aside (system.detached_parts).\n\nExamples:\n  ben rebuild facts\n  ben rebuild anomalies --format json`,
    )
    .action(async (table: string, o: { format: string }) => {
      const format = o.format === 'text' ? 'text' : parseFormat(o.format)
      const ben = await connect()
      try {
        const msg = await ben.nc.request(rebuildSubject(ben.subjects.prefix), JSON.stringify({ table }), { timeout: 15 * 60_000 })
        const r = JSON.parse(new TextDecoder().decode(msg.data)) as RebuildReply
        if (!r.ok) throw new CliError(`rebuild ${table}: ${r.error}`)
        if (format === 'json') {
          process.stdout.write(toJson(r) + '\n')
          return
        }
        const restored = r.after - r.before
        process.stdout.write(
          `rebuilt ${r.table} from JetStream (${r.projections.join(', ')}): ${r.before} rows before, ${r.after} after: ${restored >= 0 ? `${restored} were missing` : `${-restored} fewer (rows JetStream no longer holds)`}\n`,
        )
        for (const d of r.detached) process.stdout.write(`  detached part ${d.name} (${d.reason || 'detached by hand'}, ${d.rows ?? '?'} rows): re-projected and dropped\n`)
        if (r.detached.length === 0) process.stdout.write('  no detached parts\n')
      } finally {
        await ben.close()
      }
    })
}
