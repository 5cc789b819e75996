import type { Command } from 'commander'
import { createLogger, homePaths, readEnv, startBen, type ServiceFactory } from '../infra/index.js'
import { factsProjection } from '../projections/index.js'
import { projectorService } from './services.js'

/** The services `ben up` runs. Each issue of the pipeline adds its stages here. */
export function defaultServices(): ServiceFactory[] {
  return [projectorService(factsProjection())]
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Ben: NATS (embedded nats-server unless BEN_NATS_URL), ClickHouse (embedded chDB unless BEN_CLICKHOUSE_URL), topology, migrations, projector; runs until Ctrl-C')
    .option('--log-level <level>', 'log level for $BEN_HOME/ben.log', undefined)
    .addHelpText(
      'after',
      `
Where the servers come from: BEN_NATS_URL / BEN_CLICKHOUSE_URL when set; otherwise
testcontainers when a Docker engine answers; otherwise nats-server from PATH (or
BEN_NATS_SERVER_BIN) with its store under $BEN_HOME/nats, and ClickHouse embedded
(chDB) under $BEN_HOME/clickhouse. The endpoints are recorded in $BEN_HOME/endpoints.json
so that other ben commands with the same BEN_HOME find them.

Examples:
  ben up
  BEN_HOME=/var/lib/ben ben up
  BEN_NATS_URL=nats://nats-1:4222 BEN_CLICKHOUSE_URL=http://ch:8123 ben up`,
    )
    .action(async (o: { logLevel?: string }) => {
      const env = readEnv()
      const log = createLogger({ level: o.logLevel ?? env.logLevel, file: homePaths(env.home).log })
      const running = await startBen(env, log, defaultServices())
      const e = running.endpoints
      const out = process.stdout
      out.write(`Ben ${e.version} is up (pid ${e.pid})\n`)
      out.write(`  NATS        ${e.natsUrl} (${running.natsOrigin})\n`)
      out.write(`  ClickHouse  ${e.clickhouse.kind === 'embedded' ? `embedded chDB at ${e.clickhouse.location}` : e.clickhouse.location}\n`)
      out.write(`  BEN_HOME    ${env.home} (endpoints in ${homePaths(env.home).endpoints})\n`)
      out.write(`  log         ${homePaths(env.home).log}\n`)
      out.write(`  publish     ben publish facts.ndjson   |  any NATS client: ${e.prefix}.fact.<lane>.<source>\n`)
      out.write(`Ctrl-C to stop.\n`)
      await new Promise<void>((resolve) => {
        let stopping = false
        const stop = (signal: string) => {
          if (stopping) return
          stopping = true
          out.write(`\n${signal}: stopping (drain, flush, close)…\n`)
          running.stop().then(resolve, (err) => {
            log.error({ err: (err as Error).message }, 'shutdown failed')
            resolve()
          })
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
      out.write('stopped.\n')
      log.flush?.()
    })
}
