import type { Command } from 'commander'
import { createLogger, homePaths, parseSidecarList, readEnv, secureStart, startBen, streamLimitsFromEnv, type ServiceFactory } from '../infra/index.js'
import { alertPathService, detectPathServices, detectService, incidentService, LaneSet, scrubService } from '../processors/wiring/index.js'
import { runSimulation } from '../simulate/index.js'
import { projectionsByName, projectorService, rebuildService } from './services.js'
import { startOrchestrator } from '../fleet/index.js'
import { workerCommand, workerSlots } from './run.js'
import { printLive } from './live.js'
import { addSimulationOptions, simulationOptions } from './sim-options.js'
import { CliError } from './output.js'
import { addDoorOptions, checkDoorFlags, upDoorServices, type DoorFlags } from './doors.js'
import { checkConsoleOptions, isConsoleError, startConsole, type ConsoleHandle } from '../console/index.js'

/**
 * The services `ben up` runs: the processor chain (scrub → detect → policy → act) and the
 * projectors. ClickHouse is fed from the scrubbed stream: an unscrubbed fact never reaches it.
 */
export function defaultServices(opts: { workers?: number; partitions?: number } = {}): ServiceFactory[] {
  const projectors = [...projectionsByName().values()].map((p) => projectorService(p))
  // --workers N: the stages run in N worker processes under the orchestrator; else in this process,
  // in threads of their own (issue 8): the alert path (scrub's alert lane, policy and act), and the
  // detect path (scrub's routine lanes, and detect, a thread each), away from the projectors' event
  // loop and heap. BEN_DETECT_PATH=main keeps the detect path on the main thread (two threads fewer).
  const routine = process.env.BEN_DETECT_PATH === 'main' ? [scrubService(LaneSet.Routine), detectService()] : detectPathServices()
  const stages = opts.workers ? [] : [...routine, alertPathService(), incidentService()]
  return [...projectors, rebuildService(), ...stages, orchestratorService(opts.workers ?? 0, opts.partitions ?? opts.workers ?? 1)]
}

/** The orchestrator: the fleet registry, and with --workers the worker processes it starts and restarts. */
function orchestratorService(workers: number, partitions: number): ServiceFactory {
  return async (ctx) => {
    const server = ctx.nc.getServer()
    const url = server.includes('://') ? server : `nats://${server}`
    const slots = workers ? workerSlots(workers, partitions) : []
    return startOrchestrator(ctx, { slots, command: workerCommand(url, ctx.env.home, ctx.subjects.prefix) })
  }
}

function simulatorService(o: Record<string, unknown>): ServiceFactory {
  const opts = simulationOptions(o, 'sim-')
  return async (ctx) => {
    const sim = await runSimulation({ nc: ctx.nc, subjects: ctx.subjects, codec: ctx.codec, topo: ctx.topo, log: ctx.log }, opts)
    process.stdout.write(
      `simulating ${opts.hosts} hosts at ${opts.rate} facts/s for ${opts.durationMs / 1000} s; scenarios: ${sim.fleet
        .scenarios()
        .map((s) => `${s.kind} on ${s.source}${s.job ? `/${s.job}` : ''} at +${Math.round((s.startTs - sim.fleet.startTs) / 1000)} s`)
        .join(', ')}\n`,
    )
    return { name: 'simulator', stop: () => sim.stop() }
  }
}

export function registerUp(program: Command): void {
  addDoorOptions(addSimulationOptions(program.command('up'), 'sim-'), 'up')
    .description(
      'start Ben: NATS (embedded nats-server unless BEN_NATS_URL), ClickHouse (embedded chDB unless BEN_CLICKHOUSE_URL), topology, migrations, projector; runs until Ctrl-C',
    )
    .option('--log-level <level>', 'log level for $BEN_HOME/ben.log', undefined)
    .option('--simulate', 'also run a simulated fleet and its targets (what `npm start` does)')
    .option('--workers <n>', 'run the stages in N worker processes (started, watched and restarted by the orchestrator) instead of in this process')
    .option('--partitions <P>', 'with --workers: split scrub and detect into P partitions by source (default: N)')
    .option('--watch', 'print anomalies, decisions, commands and acks as they happen (on with --simulate)')
    .option('--verbose', 'with --watch: every explain, incident updates, low anomalies, lines not cut to the terminal')
    .option('--cluster <nodes>', 'run this many nats-server nodes (3: streams with three replicas survive one node); ports and stores kept under $BEN_HOME/nats-cluster')
    .option('--secure', 'NATS authorisation: one nkey user per role and sidecar; seeds and server config in $BEN_HOME/creds')
    .option('--sidecars <ids>', 'with --secure: make credentials for these sidecars now (comma-separated ids)')
    .option('--console <host:port>', 'serve the web console there (e.g. 127.0.0.1:8080); the banner prints its login URL')
    .option('--console-tls <cert,key>', 'serve the console over HTTPS with these PEM files (needed for a non-loopback address)')
    .option('--insecure-console', 'allow plain HTTP on a non-loopback console address')
    .option('--console-key <name>', 'operator key under $BEN_HOME/keys that console approvals are signed with', 'operator')
    .addHelpText(
      'after',
      `
Where the servers come from: BEN_NATS_URL / BEN_CLICKHOUSE_URL when set; otherwise
testcontainers when a Docker engine answers; otherwise nats-server from PATH (or
BEN_NATS_SERVER_BIN) with its store under $BEN_HOME/nats, and ClickHouse embedded
(chDB) under $BEN_HOME/clickhouse. The endpoints are recorded in $BEN_HOME/endpoints.json
so that other ben commands with the same BEN_HOME find them.

--secure writes nkeys for the processor (this process), projector, operator (other ben
commands under this BEN_HOME) and each --sidecars id, and a nats-server configuration that
limits each of them (a sidecar publishes only its own facts and acks and reads only its own
commands); the embedded nats-server runs with it. See infra/auth/README.md.

Examples:
  ben up
  ben up --simulate --sim-scenario cpu-runaway --sim-duration 300     # what npm start runs
  BEN_HOME=/var/lib/ben ben up
  ben up --cluster 3                                                   # three nodes, R3 streams
  ben up --secure --sidecars web-1,web-2                               # sidecar: BEN_NATS_NKEY=$BEN_HOME/creds/sidecar-web-1.nk
  ben up --otlp 127.0.0.1:4318 --syslog 127.0.0.1:5514 --metrics 127.0.0.1:9464
  ben up --simulate --console 127.0.0.1:8080                           # open the printed URL in a browser
  BEN_NATS_URL=nats://nats-1:4222 BEN_CLICKHOUSE_URL=http://ch:8123 ben up`,
    )
    .action(
      async (
        o: {
          logLevel?: string
          simulate?: boolean
          watch?: boolean
          verbose?: boolean
          secure?: boolean
          cluster?: string
          sidecars?: string
          console?: string
          consoleTls?: string
          insecureConsole?: boolean
          consoleKey: string
          workers?: string
          partitions?: string
        } & DoorFlags &
          Record<string, unknown>,
      ) => {
        const env = readEnv()
        if (o.sidecars !== undefined && !o.secure) throw new CliError('--sidecars needs --secure (credentials only mean something on a server that checks them)')
        if ((o.consoleTls || o.insecureConsole) && !o.console) throw new CliError('--console-tls and --insecure-console go with --console <host:port>')
        const consoleOpts = o.console ? { listen: o.console, tls: o.consoleTls, insecure: o.insecureConsole, operatorKey: o.consoleKey } : undefined
        if (consoleOpts) wrapConsoleError(() => checkConsoleOptions(consoleOpts))
        const cluster = o.cluster === undefined ? undefined : Number(o.cluster)
        if (cluster !== undefined && (!Number.isInteger(cluster) || cluster < 1 || cluster > 9))
          throw new CliError(`--cluster ${o.cluster}: expected a number of nodes from 1 to 9 (3 for streams that survive one node)`)
        if (cluster !== undefined && cluster > 1 && o.secure)
          throw new CliError('--cluster and --secure cannot be combined yet: run the cluster yourself with the generated auth configuration included (docs/scaling.md)')
        if (cluster !== undefined && cluster > 1 && env.natsUrl)
          throw new CliError(
            `--cluster starts nats-server nodes here, but BEN_NATS_URL=${env.natsUrl} points at servers you run: use one or the other (for your servers set BEN_JS_REPLICAS=3)`,
          )
        const secure = o.secure ? secureStart(env, parseSidecarList(o.sidecars)) : undefined
        const log = createLogger({ level: o.logLevel ?? env.logLevel, file: homePaths(env.home).log })
        const count = (what: string, v: unknown): number | undefined => {
          if (v === undefined) return undefined
          const n = Number(v)
          if (!Number.isInteger(n) || n < 1 || n > 1024) throw new CliError(`${what} must be a whole number from 1 to 1024, not '${String(v)}'`)
          return n
        }
        const workers = count('--workers', o.workers)
        const partitions = count('--partitions', o.partitions)
        if (partitions !== undefined && workers === undefined) throw new CliError('--partitions goes with --workers (in one process the stages run whole)')
        const services = defaultServices({ workers, partitions })
        if (o.simulate) services.push(simulatorService(o))
        checkDoorFlags(o)
        services.push(...upDoorServices(o))
        // BEN_<STREAM>_MAX_AGE / _MAX_BYTES / _MAX_MSGS: retention of each stream (oldest dropped first).
        const limits = streamLimitsFromEnv()
        const topology = Object.keys(limits).length ? { limits } : undefined
        // A Ctrl-C or SIGTERM while Ben starts is kept and acted on once it has started (stopped
        // then, as usual): with no listener, Node would end this process at once and leave the
        // nats-server it had just spawned (in its own process group) running with nobody to stop it.
        let asked: string | undefined
        const early = (signal: string) => () => {
          if (!asked) process.stderr.write(`${signal}: stopping once started…\n`)
          asked ??= signal
        }
        const earlyInt = early('SIGINT')
        const earlyTerm = early('SIGTERM')
        process.on('SIGINT', earlyInt)
        process.on('SIGTERM', earlyTerm)
        const running = await startBen(secure?.env ?? env, log, services, {
          ...(topology ? { topology } : {}),
          ...(secure ? { natsConfigFile: secure.natsConfigFile } : {}),
          ...(cluster ? { cluster } : {}),
        })
        // However this process ends (Ctrl-C, the stop bound, an uncaught error such as a log write
        // on a full disk), no nats-server it started outlives it; a no-op once they are stopped.
        // Only a SIGKILL skips this: the next `ben up` on this BEN_HOME stops that server.
        process.prependOnceListener('exit', () => {
          running.nats?.terminate()
          running.cluster?.terminate()
        })
        secure?.started(running.endpoints.natsPid)
        // The supervisor restarts a dead nats-server: reloads go to the new one.
        running.onNatsRestart((pid) => secure?.started(pid))
        const live = o.simulate || o.watch ? printLive(running.ctx.nc, running.ctx.subjects, { verbose: o.verbose }) : undefined
        let web: ConsoleHandle | undefined
        if (consoleOpts) {
          try {
            web = await startConsole({ ...consoleOpts, home: env.home, log, connect: { natsUrl: running.endpoints.natsUrl, prefix: running.endpoints.prefix } })
          } catch (err) {
            live?.unsubscribe()
            await running.stop()
            secure?.stopped()
            throw isConsoleError(err) ? new CliError(err.message) : err
          }
        }
        const e = running.endpoints
        const out = process.stdout
        // A closed terminal or pipe (EPIPE) must not kill ben up before it stops its nats-server.
        out.on('error', () => undefined)
        out.write(`Ben ${e.version} is up (pid ${e.pid})\n`)
        out.write(
          `  NATS        ${e.natsUrl} (${running.natsOrigin}${running.cluster ? `, cluster of ${running.cluster.nodes.length} nodes, streams R${running.ctx.topo.replicas}` : ''})\n`,
        )
        out.write(`  ClickHouse  ${e.clickhouse.kind === 'embedded' ? `embedded chDB at ${e.clickhouse.location}` : e.clickhouse.location}\n`)
        out.write(`  BEN_HOME    ${env.home} (endpoints in ${homePaths(env.home).endpoints})\n`)
        out.write(`  log         ${homePaths(env.home).log}\n`)
        out.write(`  publish     ben publish facts.ndjson   |  any NATS client: ${e.prefix}.fact.<lane>.<source>\n`)
        if (running.operatorKey)
          out.write(
            `  operator    key ${running.operatorKey.keyId} ${running.operatorKey.created ? 'made and registered' : 'registered'} (${running.operatorKey.file}): \`ben approve <id>\` uses it\n`,
          )
        if (running.userRecord) out.write(`  found by    ben commands in any directory of this user (${running.userRecord}); \`ben status\` says which Ben they talk to\n`)
        for (const line of secure?.summary(running.natsOrigin) ?? []) out.write(`${line}\n`)
        if (web) out.write(`  console     ${web.loginUrl}\n`)
        out.write(`Ctrl-C to stop.\n`)
        await new Promise<void>((resolve) => {
          let stopping = false
          let stoppingAt = 0
          const stop = (signal: string) => {
            if (stopping) return
            stopping = true
            stoppingAt = Date.now()
            out.write(`\n${signal}: stopping (drain, flush, close)…\n`)
            live?.unsubscribe()
            Promise.resolve(web?.close())
              .catch((err) => log.warn({ err: (err as Error).message }, 'console did not close cleanly'))
              .then(() => running.stop())
              .then(
                () => {
                  secure?.stopped()
                  resolve()
                },
                (err) => {
                  log.error({ err: (err as Error).message }, 'shutdown failed')
                  resolve()
                },
              )
          }
          // A second Ctrl-C, or a stop that outlives its bound, ends the process at once: the
          // checkpoints and the ack floor make the next start resume where this one stopped.
          const force = (why: string) => {
            out.write(`\n${why}: exiting now\n`)
            running.nats?.terminate()
            running.cluster?.terminate()
            try {
              log.flush?.()
            } catch {
              // the log's disk is full: exiting matters more
            }
            process.exit(130)
          }
          process.on('SIGINT', () => (stopping ? force('second SIGINT') : stop('SIGINT')))
          process.on('SIGTERM', () => (stopping ? force('second SIGTERM') : stop('SIGTERM')))
          process.off('SIGINT', earlyInt)
          process.off('SIGTERM', earlyTerm)
          if (asked) stop(asked)
          const boundMs = Number(process.env.BEN_STOP_TIMEOUT_MS) || 45_000
          const armed = setInterval(() => {
            if (stopping && Date.now() - stoppingAt > boundMs) force(`stop took longer than ${boundMs / 1000} s`)
          }, 1000)
          armed.unref()
        })
        out.write('stopped.\n')
        try {
          log.flush?.()
        } catch {
          // the log's disk is full: said on stderr already
        }
      },
    )
}

function wrapConsoleError<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw isConsoleError(err) ? new CliError(err.message) : err
  }
}
