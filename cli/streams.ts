import type { Command } from 'commander'
// Leaf modules, not the barrels (client/index.ts, streams/index.ts): each `ben` command is a process of its own, and the barrels load all of Ben.
import { connect } from '../client/ben.js'
import { StreamAdmin } from '../streams/admin.js'
import { humanBytes, outputOf, outputOption, formatAlias, printTable, toJson } from './output.js'

export function registerStreams(program: Command): void {
  program
    .command('streams')
    .description('list streams and their consumers: messages, bytes, pending, redelivered, and how far behind each consumer is')
    .addOption(outputOption(['table', 'json', 'ndjson']))
    .addOption(formatAlias(['table', 'json', 'ndjson']))
    .addHelpText('after', `\nExamples:\n  ben streams\n  ben streams -o json`)
    .action(async (o: { format: string }) => {
      const format = outputOf(o)
      const ben = await connect({ subscriptions: false })
      try {
        const admin = await StreamAdmin.open(ben.nc)
        const out: Array<Record<string, unknown>> = []
        for await (const s of admin.streams()) {
          const consumers: Array<Record<string, unknown>> = []
          for await (const c of admin.consumers(s.config.name)) {
            const lag = await admin.lag(c)
            consumers.push({
              name: c.name,
              durable: Boolean(c.config.durable_name),
              filter: c.config.filter_subject ?? '',
              delivered: c.delivered.stream_seq,
              ackFloor: c.ack_floor.stream_seq,
              pending: c.num_pending,
              ackPending: c.num_ack_pending,
              redelivered: c.num_redelivered,
              behindMs: lag.behindMs,
            })
          }
          out.push({
            stream: s.config.name,
            subjects: s.config.subjects,
            messages: s.state.messages,
            bytes: s.state.bytes,
            firstSeq: s.state.first_seq,
            lastSeq: s.state.last_seq,
            consumers,
          })
        }
        if (format === 'json' || format === 'ndjson') {
          process.stdout.write(format === 'json' ? toJson(out) + '\n' : out.map((s) => toJson(s) + '\n').join(''))
          return
        }
        printTable(
          ['stream', 'subjects', 'messages', 'bytes', 'consumers'],
          out.map((s) => [s.stream, (s.subjects as string[]).join(' '), s.messages, humanBytes(s.bytes as number), (s.consumers as unknown[]).length]),
        )
        const rows = out.flatMap((s) =>
          (s.consumers as Array<Record<string, unknown>>).map((c) => [s.stream, c.name, c.filter, c.pending, c.ackPending, c.redelivered, behind(c.behindMs as number)]),
        )
        if (rows.length) printTable(['stream', 'consumer', 'filter', 'pending', 'ack pending', 'redelivered', 'behind'], rows)
      } finally {
        await ben.close()
      }
    })
}

/** How far behind a consumer is, for the table: `-` when caught up. */
function behind(ms: number): string {
  if (ms <= 0) return '-'
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`
}
