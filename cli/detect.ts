import type { Command } from 'commander'
import { detectCsv } from '../processors/detect/index.js'
import { CliError, outputOf, outputOption, formatAlias, toJson } from './output.js'

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('run the detectors offline over a CSV (backtesting): timestamp,value in, timestamp,value,anomaly_score,label out')
    .requiredOption('--input <file>', 'CSV with header timestamp,value (YYYY-MM-DD HH:MM:SS UTC, or epoch ms)')
    .requiredOption(
      '--scores <file>',
      'CSV to write: timestamp,value,anomaly_score,label (score in [0,1]; label 1 where the live stage would emit an anomaly) for every row, in input order',
    )
    .option('--config <file>', 'detector config (YAML/JSON); default: the built-in one')
    .option('--metric <name>', 'metric name used to pick the config rule (default: the file name)')
    .option('--source <name>', 'source used to pick the config rule', 'csv')
    .addOption(outputOption(['table', 'json']))
    .addOption(formatAlias(['table', 'json']))
    .addHelpText(
      'after',
      `\nExamples:\n  ben detect --input ../shared/nab/data/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv --scores scores.csv\n  ben detect --input cpu.csv --scores scores.csv --config detectors.yaml -o json`,
    )
    .action(async (o: { input: string; scores: string; config?: string; metric?: string; source: string; format: string }) => {
      const format = outputOf(o)
      let summary
      try {
        summary = await detectCsv({ input: o.input, output: o.scores, config: o.config, metric: o.metric, source: o.source })
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      if (format === 'json') process.stdout.write(toJson(summary) + '\n')
      else
        process.stdout.write(
          `scored ${summary.scored} of ${summary.rows} rows (${summary.skipped} skipped); ${summary.anomalies} above the threshold ${summary.threshold}; max score ${summary.maxScore.toFixed(3)} at ${summary.maxScoreAt}; rule '${summary.rule}'\nwrote ${o.scores}\n`,
        )
    })
}
