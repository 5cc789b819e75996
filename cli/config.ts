import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { connect } from '../client/index.js'
import { Bucket, kvName, openBucket } from '../streams/index.js'
import { configCommands } from '../processors/pipeline.js'
import { CliError, outputOf, outputOption, formatAlias, toJson } from './output.js'

interface Kind {
  readonly command: string
  readonly what: string
  readonly bucket: Bucket
  readonly key: string
  validate(text: string): string | undefined
  builtin(): string
}

/** The configs with a command of their own, from the stage graph (processors/pipeline.ts). */
const KINDS: readonly Kind[] = configCommands().map(({ config, command }) => ({
  command: command.command,
  what: command.what,
  bucket: config.bucket,
  key: config.key,
  validate: (t) => {
    const r = config.load(t)
    return r.ok ? undefined : r.error.message
  },
  builtin: () => command.builtinText(),
}))

/** `ben manifest|detectors|policy apply|show|history`: versioned configs in KV, hot-reloaded. */
export function registerConfigCommands(program: Command): void {
  for (const k of KINDS) {
    const cmd = program.command(k.command).description(`the ${k.what}: stored as revisions in KV ${k.bucket}; running stages pick up a new revision without a restart`)
    cmd
      .command('apply')
      .argument('<file>', 'YAML or JSON file')
      .description(`validate a ${k.what} and make it the active revision`)
      .option('--dry-run', 'validate only')
      .addHelpText('after', `\nExamples:\n  ben ${k.command} apply ${k.command}.yaml\n  ben ${k.command} apply ${k.command}.yaml --dry-run`)
      .action(async (file: string, o: { dryRun?: boolean }) => {
        let text: string
        try {
          text = readFileSync(file, 'utf8')
        } catch (err) {
          throw new CliError(`cannot read ${file}: ${(err as Error).message}`)
        }
        const problem = k.validate(text)
        if (problem) throw new CliError(`${file} is not a valid ${k.what}: ${problem}`)
        if (o.dryRun) {
          process.stdout.write(`${file}: valid ${k.what}\n`)
          return
        }
        const ben = await connect()
        try {
          const kv = await openBucket(ben.nc, kvName({}, k.bucket))
          const revision = await kv.put(k.key, text)
          process.stdout.write(`${file} is now revision ${revision} of ${k.bucket}/${k.key}; running stages switch to it with the next fact\n`)
        } finally {
          await ben.close()
        }
      })
    cmd
      .command('show')
      .description(`print the active ${k.what} (or a given revision)`)
      .option('--revision <n>', 'a past revision')
      .addOption(outputOption(['table', 'json']))
      .addOption(formatAlias(['table', 'json']))
      .addHelpText('after', `\nExamples:\n  ben ${k.command} show\n  ben ${k.command} show --revision 3\n  ben ${k.command} show -o json`)
      .action(async (o: { revision?: string; format: string }) => {
        const format = outputOf(o)
        const ben = await connect()
        try {
          const kv = await openBucket(ben.nc, kvName({}, k.bucket))
          const e = await kv.get(k.key, o.revision ? { revision: Number(o.revision) } : undefined)
          const found = e && e.operation === 'PUT'
          const text = found ? e.string() : k.builtin()
          const revision = found ? e.revision : 0
          if (format === 'json') process.stdout.write(toJson({ bucket: k.bucket, key: k.key, revision, builtin: !found, text }) + '\n')
          else process.stdout.write(`# ${k.bucket}/${k.key} revision ${revision}${found ? '' : ' (built-in default: nothing applied yet)'}\n${text}`)
        } finally {
          await ben.close()
        }
      })
    cmd
      .command('history')
      .description(`list the stored revisions of the ${k.what}`)
      .addOption(outputOption(['table', 'json']))
      .addOption(formatAlias(['table', 'json']))
      .action(async (o: { format: string }) => {
        const format = outputOf(o)
        const ben = await connect()
        try {
          const kv = await openBucket(ben.nc, kvName({}, k.bucket))
          const out: Array<{ revision: number; created: string; bytes: number }> = []
          for await (const e of await kv.history({ key: k.key })) if (e.operation === 'PUT') out.push({ revision: e.revision, created: e.created.toISOString(), bytes: e.length })
          if (format === 'json') process.stdout.write(toJson(out) + '\n')
          else for (const r of out) process.stdout.write(`revision ${r.revision}  ${r.created}  ${r.bytes} bytes\n`)
          if (format === 'table' && out.length === 0) process.stdout.write('no revisions stored: the built-in default is active (revision 0)\n')
        } finally {
          await ben.close()
        }
      })
  }
}
