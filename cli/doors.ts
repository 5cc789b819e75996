import type { Command } from 'commander'
import type { ServiceFactory } from '../infra/index.js'
import { isIntakeError, openDoors, parseHostPort, parseTarget, publisherSink, type DoorsConfig, type OtlpMapping } from '../intake/index.js'
import { metricsRegistry } from '../streams/index.js'
import { isTelemetryError, registerJetStreamCollectors, serveMetrics } from '../telemetry/index.js'
import { CliError } from './output.js'
import { parseDuration } from '../schemas/index.js'
import { notifyService } from '../notify/index.js'

export interface DoorFlags {
  otlp?: string
  otlpSourceFrom?: string
  otlpResourceKeys?: string
  syslog?: string
  metrics?: string
  scrape?: string[]
  scrapeInterval?: string
  scrapeMatch?: string
}

/** The intake door and metrics flags, shared by `ben up` and `ben sidecar`. */
export function addDoorOptions(cmd: Command, where: 'up' | 'sidecar'): Command {
  cmd
    .option('--otlp <host:port>', 'OTLP/HTTP intake for logs and metrics, protobuf or JSON (e.g. 127.0.0.1:4318)')
    .option('--syslog <host:port>', 'syslog intake, RFC 5424/3164 over UDP and TCP on the same port (e.g. 127.0.0.1:5514)')
    .option('--metrics <host:port>', "serve Prometheus /metrics for Ben's own health (e.g. 127.0.0.1:9464)")
    .option('--scrape <target...>', 'pull Prometheus text from these /metrics URLs into metric facts (url, or source=url)')
    .option('--scrape-interval <duration>', 'how often to pull each --scrape target', '15s')
    .option('--scrape-match <regex>', 'only metric names matching this regular expression')
  if (where === 'up') {
    cmd
      .option('--otlp-source-from <attrs>', 'resource attributes naming the source, first present wins (default host.name,service.instance.id,service.name)')
      .option(
        '--otlp-resource-keys <attrs>',
        "resource attributes copied into labels/attrs ('*' for all; default service.name,service.namespace,service.version,host.name,deployment.environment)",
      )
  }
  return cmd
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export function doorsConfig(o: DoorFlags): DoorsConfig {
  const mapping: Partial<OtlpMapping> = {
    ...(o.otlpSourceFrom ? { sourceFrom: list(o.otlpSourceFrom) } : {}),
    ...(o.otlpResourceKeys ? { resourceKeys: o.otlpResourceKeys.trim() === '*' ? '*' : list(o.otlpResourceKeys) } : {}),
  }
  let scrapeOptions = {}
  if (o.scrape?.length) {
    const interval = parseDuration(o.scrapeInterval ?? '15s')
    if (interval === undefined || interval < 1000) throw new CliError(`--scrape-interval '${o.scrapeInterval}': a duration of at least 1s (e.g. 15s, 1m)`)
    let match: RegExp | undefined
    try {
      match = o.scrapeMatch ? new RegExp(o.scrapeMatch) : undefined
    } catch (err) {
      throw new CliError(`--scrape-match: ${(err as Error).message}`)
    }
    scrapeOptions = { intervalMs: interval, ...(match ? { match } : {}) }
  }
  return {
    ...(o.otlp ? { otlp: o.otlp, otlpOptions: { mapping } } : {}),
    ...(o.syslog ? { syslog: o.syslog } : {}),
    ...(o.scrape?.length ? { scrape: o.scrape, scrapeOptions } : {}),
  }
}

const cliError = (err: unknown): unknown => (isIntakeError(err) || isTelemetryError(err) ? new CliError((err as Error).message, 2) : err)

/** Checks the addresses before anything starts, so a typo fails at once with the flag's name. */
export function checkDoorFlags(o: DoorFlags): void {
  try {
    if (o.otlp) parseHostPort(o.otlp, '--otlp')
    if (o.syslog) parseHostPort(o.syslog, '--syslog')
    if (o.metrics) parseHostPort(o.metrics, '--metrics')
    for (const t of o.scrape ?? []) parseTarget(t)
  } catch (err) {
    throw cliError(err)
  }
}

/** `ben up`'s doors (publishing to FACTS through the acknowledged publisher), /metrics and the webhook notifier, as services. */
export function upDoorServices(o: DoorFlags): ServiceFactory[] {
  const out: ServiceFactory[] = [notifyService()]
  const config = doorsConfig(o)
  if (config.otlp || config.syslog || config.scrape) {
    out.push(async (ctx) => {
      const doors = await openDoors(publisherSink(ctx.publisher), { ...config, syslogOptions: { log: ctx.log } }).catch((err: unknown) => {
        throw cliError(err)
      })
      const where = (d: { name: string; address: string }) =>
        d.name === 'otlp' ? `http://${d.address}/v1/logs, /v1/metrics` : d.name === 'syslog' ? `${d.address} (UDP and TCP)` : d.address
      for (const d of doors) process.stdout.write(`  ${d.name.padEnd(11)} ${where(d)}\n`)
      return { name: `doors:${doors.map((d) => d.name).join(',')}`, stop: async () => void (await Promise.all(doors.map((d) => d.close()))) }
    })
  }
  if (o.metrics) {
    const at = parseHostPort(o.metrics, '--metrics')
    out.push(async (ctx) => {
      registerJetStreamCollectors(ctx.nc, ctx.topo, metricsRegistry)
      const server = await serveMetrics(at, metricsRegistry).catch((err: unknown) => {
        throw cliError(err)
      })
      process.stdout.write(`  metrics     ${server.address}/metrics\n`)
      return { name: 'metrics', stop: () => server.close() }
    })
  }
  return out
}
