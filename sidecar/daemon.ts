import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import { connectNats, createLogger, homePaths, isAlive, readEndpoints, readEnv, type BenEnv, type Logger } from '../infra/index.js'
import type { FsyncPolicy, WhenFull } from './wal/index.js'
import { createSidecar } from './sidecar.js'
import { execHandlers } from './exec.js'
import { parseListen } from './listen.js'
import { sidecarHome, statusPath, writeStatusFile } from './status.js'
import type { Sidecar } from './types.js'
import { metricsRegistry } from '../streams/index.js'
import { openDoors, parseHostPort, serveNdjson, sidecarSink, type Door, type DoorsConfig, type NdjsonServer } from '../intake/index.js'
import { serveMetrics, type MetricsServer } from '../telemetry/index.js'
import { registerSidecarCollectors } from './collectors.js'

export interface DaemonOptions {
  readonly id: string
  /** Unix socket path or loopback host:port. Default: the Unix socket `$BEN_HOME/sidecar/<id>/sidecar.sock`. */
  readonly listen?: string
  /** Default `$BEN_HOME/sidecar/<id>/wal`. */
  readonly walDir?: string
  readonly fsync?: FsyncPolicy
  readonly maxWalBytes?: number
  readonly whenFull?: WhenFull
  readonly blockTimeoutMs?: number
  /** `<verb>=<command line>` handlers (see exec.ts). */
  readonly exec?: readonly string[]
  readonly env?: NodeJS.ProcessEnv
  readonly log?: Logger
  /** More intake doors on the same WAL (OTLP/HTTP, syslog): the sidecar's id is their source. */
  readonly doors?: DoorsConfig
  /** `host:port` to serve Prometheus `/metrics` (WAL depth, drain, intake counters, process). */
  readonly metrics?: string
}

export interface RunningDaemon {
  readonly sidecar: Sidecar
  readonly server: NdjsonServer
  readonly doors: readonly Door[]
  readonly metrics?: MetricsServer
  readonly home: string
  stop(): Promise<void>
}

/**
 * `ben sidecar`: the sidecar as a process. It finds NATS like every `ben` command
 * (BEN_NATS_URL, else the `ben up` running under $BEN_HOME, looked for again every second
 * until one answers) and accepts facts into its WAL from the first moment, connected or not.
 * The status goes to `$BEN_HOME/sidecar/<id>/status.json` every second.
 */
export async function startSidecarDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const env = readEnv(o.env ?? process.env)
  const dir = sidecarHome(env.home, o.id)
  const log = o.log ?? createLogger({ level: env.logLevel, file: join(dir, 'sidecar.log'), name: `sidecar-${o.id}` })
  const listenAt = parseListen(o.listen ?? join(dir, 'sidecar.sock'))
  const running = aliveEndpoints(env)
  const prefix = env.natsUrl ? env.prefix : (running?.prefix ?? env.prefix)
  const abort = new AbortController()
  let nc: NatsConnection | undefined
  const nats = connectWhenAvailable(env, `ben-sidecar-${o.id}`, log, abort.signal).then((c) => (nc = c))
  const sidecar = await createSidecar({
    id: o.id,
    nats,
    walDir: o.walDir ?? join(dir, 'wal'),
    stateDir: dir,
    keyDir: homePaths(env.home).keys,
    prefix,
    handlers: execHandlers(o.exec ?? []),
    ...(o.fsync ? { fsync: o.fsync } : {}),
    ...(o.maxWalBytes !== undefined ? { maxWalBytes: o.maxWalBytes } : {}),
    ...(o.whenFull ? { whenFull: o.whenFull } : {}),
    ...(o.blockTimeoutMs !== undefined ? { blockTimeoutMs: o.blockTimeoutMs } : {}),
    drain: { delayTargetMs: env.publishDelayMs },
    log,
  })
  let server: NdjsonServer
  let address: string | null = null
  try {
    server = await serveNdjson(sidecar, listenAt, { statusExtra: () => ({ listen: address }) })
  } catch (err) {
    abort.abort()
    await sidecar.close()
    throw err
  }
  address = server.address
  let doors: Door[] = []
  let metrics: MetricsServer | undefined
  try {
    doors = await openDoors(sidecarSink(sidecar), { ...o.doors, syslogOptions: { log, ...o.doors?.syslogOptions } })
    if (o.metrics) {
      registerSidecarCollectors(() => sidecar.status(), metricsRegistry)
      metrics = await serveMetrics(parseHostPort(o.metrics, '--metrics'), metricsRegistry)
    }
  } catch (err) {
    for (const d of doors) await d.close()
    abort.abort()
    await server.close()
    await sidecar.close()
    throw err
  }
  const file = statusPath(env.home, o.id)
  const writeStatus = () => {
    try {
      writeStatusFile(file, { ...sidecar.status(), listen: address })
    } catch (err) {
      log.warn({ file, err: (err as Error).message }, 'cannot write the sidecar status file')
    }
  }
  writeStatus()
  const timer = setInterval(writeStatus, 1000)
  timer.unref()
  let stopping: Promise<void> | undefined
  return {
    sidecar,
    server,
    doors,
    ...(metrics ? { metrics } : {}),
    home: env.home,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer)
        abort.abort()
        for (const d of doors) await d.close()
        await metrics?.close()
        await server.close()
        await sidecar.close()
        const s = sidecar.status()
        writeStatusFile(file, { ...s, connected: false, listen: null, drain: { ...s.drain, connected: false, mode: 'stopped' } })
        if (nc) await nc.close().catch(() => undefined)
      })()),
  }
}

function aliveEndpoints(env: BenEnv) {
  const e = readEndpoints(homePaths(env.home).endpoints)
  return e && isAlive(e.pid) ? e : undefined
}

/** Connects once NATS is reachable; stays pending (never rejects) when aborted first. */
async function connectWhenAvailable(env: BenEnv, name: string, log: Logger, signal: AbortSignal): Promise<NatsConnection> {
  let said = ''
  for (;;) {
    if (signal.aborted) return new Promise<NatsConnection>(() => undefined)
    const url = env.natsUrl ?? aliveEndpoints(env)?.natsUrl
    let why: string
    if (url) {
      try {
        const nc = await connectNats(url, env, name)
        if (signal.aborted) {
          await nc.close()
          continue
        }
        log.info({ url }, 'sidecar connected to NATS')
        return nc
      } catch (err) {
        why = `NATS at ${url} does not answer (${(err as Error).message}); facts go to the WAL until it does`
      }
    } else why = `BEN_NATS_URL is not set and ben up is not running for BEN_HOME=${env.home}; facts go to the WAL until one is`
    if (why !== said) log.warn({}, why)
    said = why
    await new Promise((r) => setTimeout(r, 1000))
  }
}
