import type { Command } from 'commander'
import { connect } from '../client/index.js'
import type { StartAt } from '../streams/index.js'
import { CliError, toJson } from './output.js'

export function registerTail(program: Command): void {
  program
    .command('tail')
    .argument('<subject-pattern>', "NATS subject pattern, e.g. 'ben.fact.metric.>' or 'ben.anomaly.*.web-3'")
    .description('follow streams as JSON lines, decoding Avro')
    .option('--all', 'start from the first message kept in the stream')
    .option('--last <n>', 'start with the last n messages of each stream')
    .option('--since <time>', 'start at a time (ISO 8601, or a duration like 10m, 2h)')
    .option('-n, --limit <n>', 'stop after n messages')
    .option('--format <format>', 'json (one object per line) — the only format: tail output is for pipes', 'json')
    .addHelpText(
      'after',
      `
Each line: {"stream":…,"subject":…,"seq":…,"time":…,"fact":{…}} (or "error" when a message
cannot be decoded). Follows until Ctrl-C.

Examples:
  ben tail 'ben.fact.>'
  ben tail 'ben.anomaly.>' --since 1h
  ben tail 'ben.dlq.>' --all --limit 10`,
    )
    .action(async (pattern: string, o: { all?: boolean; last?: string; since?: string; limit?: string }) => {
      const start: StartAt = o.all ? { deliver: 'all' } : o.last ? { deliver: 'last', count: positive(o.last, '--last') } : o.since ? { deliver: 'since', time: parseSince(o.since) } : { deliver: 'new' }
      const limit = o.limit ? positive(o.limit, '--limit') : Infinity
      const ben = await connect()
      let n = 0
      await new Promise<void>((resolve, reject) => {
        const sub = ben.subscribe(pattern, start).subscribe({
          next: (d) => {
            const line = d.result.ok
              ? { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), fact: d.result.value }
              : { stream: d.stream, subject: d.subject, seq: d.seq, time: new Date(d.time).toISOString(), error: d.result.error }
            process.stdout.write(toJson(line) + '\n')
            if (++n >= limit) {
              sub.unsubscribe()
              resolve()
            }
          },
          error: (err) => reject(new CliError((err as Error).message)),
        })
        const stop = () => {
          sub.unsubscribe()
          resolve()
        }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      }).finally(() => ben.close())
    })
}

function positive(v: string, flag: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive whole number, not '${v}'`)
  return n
}

/** ISO time or a duration back from now: 30s, 10m, 2h, 1d. */
export function parseSince(v: string): Date {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v)
  if (m) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms']
    return new Date(Date.now() - Number(m[1]) * unit)
  }
  const d = new Date(v)
  if (Number.isNaN(d.getTime())) throw new CliError(`--since must be an ISO time or a duration like 10m, not '${v}'`)
  return d
}
