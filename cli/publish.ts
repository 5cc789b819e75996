import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { SingleBar, Presets } from 'cli-progress'
import type { Command } from 'commander'
// Leaf modules, not the barrels (client/index.ts, streams/index.ts): each `ben` command is a process of its own, and the barrels load all of Ben.
import { connect } from '../client/ben.js'
import { CliError, oneLine, outputOf, outputOption, formatAlias, toJson } from './output.js'

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .argument('[file]', "NDJSON file of facts in the edge shape; '-' or nothing for standard input", '-')
    .description('publish facts (NDJSON, edge shape) to JetStream, acknowledged and de-duplicated')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .option('--max-errors <n>', 'rejected lines listed at most', '20')
    .addHelpText(
      'after',
      `
Each line is one fact, e.g.
  {"lane":"metric","source":"web-3","ts":1763700000000,"name":"cpu.load","value":0.73,"labels":{"job":"batch-7"}}

Examples:
  ben publish facts.ndjson
  cat facts.ndjson | ben publish -
  ben publish facts.ndjson -o json

Exit status: 0 when every line was stored or was a duplicate, 3 when some lines were
rejected (each is listed with its line number and reason), 1 when publishing failed.`,
    )
    .action(async (file: string, o: { format: string; maxErrors: string }) => {
      const format = outputOf(o)
      // A bare `ben publish` at a terminal would look hung: say what it waits for.
      if (file === '-' && process.stdin.isTTY) process.stderr.write('ben: reading NDJSON facts from standard input (one per line; Ctrl-D to finish, Ctrl-C to cancel)…\n')
      const input = file === '-' ? process.stdin : createReadStream(file)
      input.on('error', () => undefined)
      const opened = new Promise<void>((resolve, reject) => {
        if (file === '-') return resolve()
        input.once('open', () => resolve())
        input.once('error', (err: Error) => reject(new CliError(`cannot read ${file}: ${(err as Error).message}`)))
      })
      await opened
      const ben = await connect({ subscriptions: false })
      const bar =
        process.stderr.isTTY && format === 'table'
          ? new SingleBar({ format: 'publishing {value} facts | {rate}/s | stored {stored} dup {dup} rejected {rej}', hideCursor: true }, Presets.shades_classic)
          : undefined
      const lines: number[] = []
      const notJson: Array<{ line: number; reason: string; message: string }> = []
      let seen = 0
      let stored = 0
      let dup = 0
      let rej = 0
      let deadLettered = 0
      const t0 = performance.now()
      bar?.start(0, 0, { rate: 0, stored: 0, dup: 0, rej: 0 })
      async function* objects() {
        let n = 0
        for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
          n++
          const text = raw.trim()
          if (!text) continue
          let v: unknown
          try {
            v = JSON.parse(text)
          } catch (err) {
            const message = `not JSON: ${(err as Error).message}`
            notJson.push({ line: n, reason: 'not_json', message })
            if (await ben.deadLetter(raw, { reason: 'not_json', message: `line ${n}: ${message}` }, n)) deadLettered++
            continue
          }
          lines.push(n)
          yield v
        }
      }
      try {
        const summary = await ben.publish(
          objects(),
          (o) => {
            seen++
            if ('status' in o) {
              if (o.status === 'stored') stored++
              else if (o.status === 'duplicate') dup++
            } else rej++
            if (bar && seen % 500 === 0) {
              const rate = Math.round(seen / ((performance.now() - t0) / 1000))
              bar.setTotal(seen)
              bar.update(seen, { rate, stored, dup, rej: notJson.length + rej })
            }
          },
          { stallMs: Number(process.env.BEN_PUBLISH_STALL_MS) || 20_000 },
        )
        bar?.stop()
        const rejected = [...notJson, ...summary.rejections.map((r) => ({ line: lines[r.index], reason: r.reason, message: r.message }))].sort((a, b) => a.line - b.line)
        const result = {
          stored: summary.stored,
          duplicate: summary.duplicate,
          rejected: rejected.length,
          deadLettered: deadLettered + summary.deadLettered,
          failed: summary.failed,
          seconds: +((performance.now() - t0) / 1000).toFixed(3),
          ...(summary.stopped ? { stopped: summary.stopped } : {}),
          rejections: rejected,
          failures: summary.failures,
        }
        if (format === 'json') process.stdout.write(toJson(result) + '\n')
        else {
          process.stdout.write(`stored ${result.stored}, duplicate ${result.duplicate}, rejected ${result.rejected}, failed ${result.failed} in ${result.seconds} s\n`)
          if (result.rejected > 0)
            process.stdout.write(`  rejected lines are in ${ben.subjects.prefix}.dlq.publish (${result.deadLettered} stored): ben tail '${ben.subjects.prefix}.dlq.>' --all\n`)
          const max = Number(o.maxErrors)
          for (const r of rejected.slice(0, max)) process.stdout.write(`  line ${r.line}: ${r.reason}: ${oneLine(r.message)}\n`)
          if (rejected.length > max) process.stdout.write(`  … and ${rejected.length - max} more rejected lines (use -o json for all)\n`)
          for (const f of summary.failures.slice(0, max)) process.stdout.write(`  fact ${f.id}: failed: ${oneLine(f.error)}\n`)
          if (summary.failures.length > max) process.stdout.write(`  … and ${summary.failures.length - max} more failed facts\n`)
        }
        if (summary.stopped) process.stderr.write(`ben: publish stopped: ${summary.stopped}\n`)
        if (summary.failed > 0 || summary.stopped) process.exitCode = 1
        else if (rejected.length > 0) process.exitCode = 3
      } finally {
        bar?.stop()
        await ben.close()
      }
    })
}
