import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { listNotifiers, NotifyFormat, openNotifyBucket, parseNotifier, putNotifier, removeNotifier, SEVERITIES } from '../notify/index.js'
import { CliError, parseFormat, printTable, toJson } from './output.js'

const int = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) throw new CliError(`${flag} must be a whole number, not '${v}'`)
  return n
}

/** `ben notify add|list|remove`: webhook notifiers, kept in KV `ben-notify`; the running `ben up` picks changes up at once. */
export function registerNotify(program: Command): void {
  const cmd = program.command('notify').description('webhook notifications of anomalies, incidents and command proposals (Alertmanager format or plain JSON)')

  cmd
    .command('add')
    .argument('<name>', 'notifier name (lowercase letters, digits, - and _)')
    .requiredOption('--url <url>', 'webhook URL (http or https)')
    .option('--format <format>', `${Object.values(NotifyFormat).join(' or ')}`, 'json')
    .option('--min-severity <severity>', `notify at or above: ${SEVERITIES.join(', ')}`, 'high')
    .option('--source <glob>', 'only sources matching this glob (* and ?)', '*')
    .option('--kinds <kinds>', 'comma-separated: anomaly, incident, proposal', 'anomaly,incident,proposal')
    .option('--secret-file <file>', 'HMAC-SHA256 key (first line of the file): X-Ben-Signature: sha256=hex(HMAC(key, "<X-Ben-Timestamp>.<body>"))')
    .option('--retries <n>', 'attempts after the first (backoff doubles from --backoff-ms)', '5')
    .option('--backoff-ms <ms>', 'first retry delay', '500')
    .option('--timeout-ms <ms>', 'per attempt', '10000')
    .option('--external-url <url>', 'link back to Ben in Alertmanager payloads', '')
    .addHelpText(
      'after',
      `
A notification that still fails after the retries goes to ben.dlq.notify (reason
undeliverable) with the notifier, the attempts and the last error.

Examples:
  ben notify add oncall --url http://alertmanager-bridge:9099/hook --format alertmanager --min-severity high
  ben notify add audit --url https://hooks.example.com/ben --source 'web-*' --kinds incident --secret-file /etc/ben/hook.key`,
    )
    .action(
      async (
        name: string,
        o: {
          url: string
          format: string
          minSeverity: string
          source: string
          kinds: string
          secretFile?: string
          retries: string
          backoffMs: string
          timeoutMs: string
          externalUrl: string
        },
      ) => {
        let secret: string | undefined
        if (o.secretFile) {
          try {
            secret = readFileSync(o.secretFile, 'utf8').split('\n')[0].trim()
          } catch (err) {
            throw new CliError(`cannot read --secret-file ${o.secretFile}: ${(err as Error).message}`)
          }
        }
        const r = parseNotifier({
          name,
          url: o.url,
          format: o.format,
          minSeverity: o.minSeverity,
          source: o.source,
          kinds: o.kinds
            .split(',')
            .map((k) => k.trim())
            .filter(Boolean),
          retries: int('--retries', o.retries),
          backoffMs: int('--backoff-ms', o.backoffMs),
          timeoutMs: int('--timeout-ms', o.timeoutMs),
          externalUrl: o.externalUrl,
          ...(secret !== undefined ? { secret } : {}),
        })
        if (!r.ok) throw new CliError(`notifier ${name}: ${r.message}`)
        const ben = await connect()
        try {
          const kv = await openNotifyBucket(ben.nc)
          const revision = await putNotifier(kv, r.value)
          process.stdout.write(
            `notifier ${name} saved (revision ${revision}): ${r.value.format} to ${r.value.url}, ${r.value.kinds.join('/')} at ${r.value.minSeverity} or above from ${r.value.source}${r.value.secret ? ', signed' : ''}\n`,
          )
        } finally {
          await ben.close()
        }
      },
    )

  cmd
    .command('list')
    .option('--format <format>', 'table or json', 'table')
    .action(async (o: { format: string }) => {
      const format = parseFormat(o.format)
      const ben = await connect()
      try {
        const kv = await openNotifyBucket(ben.nc)
        const { notifiers, problems } = await listNotifiers(kv)
        const rows = notifiers.map((n) => ({ ...n.config, secret: n.config.secret ? 'set' : 'none', revision: n.revision }))
        if (format === 'json') process.stdout.write(toJson({ notifiers: rows, problems }) + '\n')
        else {
          if (rows.length === 0) process.stdout.write('no notifiers (add one with `ben notify add <name> --url <url>`)\n')
          else
            printTable(
              ['name', 'format', 'url', 'kinds', 'min severity', 'source', 'signed', 'retries', 'revision'],
              rows.map((n) => [n.name, n.format, n.url, n.kinds.join(','), n.minSeverity, n.source, n.secret, n.retries, n.revision]),
            )
          for (const p of problems) process.stdout.write(`  ignored ${p.key}: ${p.message}\n`)
        }
      } finally {
        await ben.close()
      }
    })

  cmd
    .command('remove')
    .argument('<name>')
    .action(async (name: string) => {
      const ben = await connect()
      try {
        const kv = await openNotifyBucket(ben.nc)
        if (!(await removeNotifier(kv, name))) throw new CliError(`no notifier named ${name} (see ben notify list)`)
        process.stdout.write(`notifier ${name} removed\n`)
      } finally {
        await ben.close()
      }
    })
}
