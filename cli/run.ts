import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
// Leaf modules, not the barrels (infra/index.js, fleet/index.js): a worker that `ben up --workers`
// spawns pays for every module it loads, and under load that start is a stall of its units.
// Projectors (ClickHouse) and the orchestrator are loaded only by the commands that run them.
import { createLogger, type Logger } from '../infra/log.js'
import { homePaths, readEnv } from '../infra/config.js'
import { startWorker } from '../fleet/worker.js'
import type { WorkerSlot } from '../fleet/orchestrator.js'
import { workerContext } from '../fleet/context.js'
import { allUnits, deal, parseUnitKey, unitKey, unitsFor } from '../fleet/units.js'
import type { StageUnit } from '../processors/wiring/index.js'
import { STAGE_NAMES } from '../processors/pipeline.js'
import { CliError } from './output.js'

/** The worker command line `ben up --workers N` and the orchestrator start for a slot. */
export function workerCommand(natsUrl: string, home: string, prefix: string): (slot: WorkerSlot) => { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  // dist/cli/run.js (built) or cli/run.ts (tests run the sources): bin/ben.js at the package root
  const bin = [new URL('../../bin/ben.js', import.meta.url), new URL('../bin/ben.js', import.meta.url)].map((u) => fileURLToPath(u)).find((f) => existsSync(f)) ?? 'ben'
  return (slot) => ({
    cmd: process.execPath,
    args: [bin, 'run', '--worker-id', slot.id, '--units', slot.units.map(unitKey).join(',')],
    env: { ...process.env, BEN_NATS_URL: natsUrl, BEN_HOME: home, BEN_PREFIX: prefix },
  })
}

/** `ben up --workers N --partitions P`: the graph's units dealt to N worker slots. */
export function workerSlots(workers: number, partitions: number): WorkerSlot[] {
  return deal(allUnits(partitions), workers).map((units, i) => ({ id: `${hostname()}-w${i + 1}`, units }))
}

const positive = (what: string, v: string | undefined, dflt: number): number => {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new CliError(`${what} must be a whole number from 1 to 1024, not '${v}'`)
  return n
}

async function untilSignal(log: Logger, stop: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false
    const go = (sig: string) => {
      if (stopping) process.exit(130)
      stopping = true
      process.stderr.write(`${sig}: stopping…\n`)
      const t = setTimeout(() => process.exit(130), Number(process.env.BEN_STOP_TIMEOUT_MS) || 45_000)
      t.unref()
      stop().then(resolve, (err) => {
        log.error({ err: (err as Error).message }, 'stop failed')
        resolve()
      })
    }
    process.on('SIGINT', () => go('SIGINT'))
    process.on('SIGTERM', () => go('SIGTERM'))
  })
}

/**
 * A worker started by `ben up --workers` (or `ben orchestrator`) reads a stdin pipe its parent
 * holds: end of file means the parent is gone (SIGKILL included), and the worker stops as on
 * SIGTERM, so its leases go to the workers of the next `ben up` instead of to an orphan.
 */
function watchParent(log: Logger): void {
  const gone = () => {
    log.warn({ ppid: process.ppid }, 'the process that started this worker is gone: stopping')
    process.kill(process.pid, 'SIGTERM')
  }
  process.stdin.once('end', gone)
  process.stdin.once('error', gone)
  process.stdin.resume()
  ;(process.stdin as unknown as { unref?: () => void }).unref?.()
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .argument('[what...]', `stages to run (${STAGE_NAMES.join(', ')}, or all), or projector:<table> (needs BEN_CLICKHOUSE_URL)`)
    .description('run a worker: stages (or some of their partitions) or projectors, anywhere that reaches NATS; each unit runs under a lease so it never runs twice')
    .option('--partitions <list>', 'the partitions of the partitioned stages to own, e.g. 0-3 or 0,2 (default: all)')
    .option('--of <P>', 'how many partitions each partitioned stage (scrub, detect) is split into', '1')
    .option('--units <keys>', 'exact units, e.g. scrub.p0of2,detect.p0of2,policy (what `ben up --workers` uses)')
    .option('--worker-id <id>', "this worker's id in the fleet registry and its leases (default: <host>-<pid>)")
    .option('--log-level <level>', 'log level (the log is $BEN_HOME/worker-<id>.log)')
    .addHelpText(
      'after',
      `
A unit is a stage, or one partition of a stage: scrub and detect split their input by source
(the last subject token) into --of P partitions, each with its own durable consumer and
checkpoint; policy, act and incident keep state across sources and run whole (partition 0).
A unit runs under a lease in KV ben-fleet: a second worker given the same unit waits and takes
it over when the first stops renewing (dies, stalls). Output is the same whatever P and the
number of workers.

Examples:
  ben run all                                   # every stage, whole
  ben run scrub detect --partitions 0-1 --of 4  # half of scrub and detect
  ben run detect --partitions 2-3 --of 4        # the other half of detect, on another machine
  BEN_NATS_URL=nats://nats-1:4222 ben run policy act incident
  BEN_CLICKHOUSE_URL=http://ch:8123 ben run projector:facts`,
    )
    .action(async (what: string[], o: { partitions?: string; of: string; units?: string; workerId?: string; logLevel?: string }) => {
      const env = readEnv()
      const count = positive('--of', o.of, 1)
      const projectors = what.filter((w) => w.startsWith('projector:')).map((w) => w.slice('projector:'.length))
      const stages = what.filter((w) => !w.startsWith('projector:'))
      let units: StageUnit[]
      try {
        units = o.units ? o.units.split(',').filter(Boolean).map(parseUnitKey) : stages.length || !projectors.length ? unitsFor(stages, o.partitions, count) : []
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      const { projectionsByName, projectorService } = projectors.length ? await import('./services.js') : { projectionsByName: () => new Map(), projectorService: undefined }
      const byName = projectionsByName()
      for (const p of projectors) if (!byName.has(p)) throw new CliError(`unknown projector '${p}': one of ${[...byName.keys()].join(', ')}`)
      if (projectors.length && !env.clickhouseUrl)
        throw new CliError('projectors need BEN_CLICKHOUSE_URL here: the embedded chDB belongs to the `ben up` process (which runs the projectors itself)')
      const id = o.workerId ?? `${hostname()}-${process.pid}`
      const log = createLogger({ level: o.logLevel ?? env.logLevel, file: `${homePaths(env.home).log.replace(/ben\.log$/, '')}worker-${id.replace(/[^-\w.]/g, '_')}.log` })
      const base = await workerContext(env, log, `ben-worker-${id}`)
      const warehouse = projectors.length
        ? await (
            await import('../infra/clickhouse.js')
          ).openClickHouse({ url: env.clickhouseUrl!, user: env.clickhouseUser, password: env.clickhousePassword, database: env.clickhouseDb })
        : undefined
      const ctx = warehouse ? { ...base, warehouse } : base
      const worker = units.length ? await startWorker(ctx, { id, units }) : undefined
      const projSvcs = await Promise.all(projectors.map((p) => projectorService!(byName.get(p)!)(ctx)))
      process.stdout.write(
        `worker ${id} (pid ${process.pid}) runs ${[...units.map(unitKey), ...projectors.map((p) => `projector:${p}`)].join(', ')} on ${base.nc.getServer()}; Ctrl-C to stop\n`,
      )
      if (process.env.BEN_PARENT_WATCH === 'stdin') watchParent(log)
      await untilSignal(log, async () => {
        await worker?.stop()
        for (const s of projSvcs) await s.stop()
        await warehouse?.close()
        await base.close()
      })
      log.flush?.()
    })

  program
    .command('orchestrator')
    .description('keep the fleet registry (KV ben-fleet) from hellos and leases, and start/restart N worker processes')
    .option('--workers <n>', 'worker processes to start and keep running (default: none, registry only)')
    .option('--partitions <P>', 'partitions of scrub and detect (default: the number of workers)')
    .action(async (o: { workers?: string; partitions?: string }) => {
      const env = readEnv()
      const log = createLogger({ level: env.logLevel, file: homePaths(env.home).log.replace(/ben\.log$/, 'orchestrator.log') })
      const ctx = await workerContext(env, log, 'ben-orchestrator')
      const n = o.workers === undefined ? 0 : positive('--workers', o.workers, 1)
      const slots = n ? workerSlots(n, positive('--partitions', o.partitions, n)) : []
      const { startOrchestrator } = await import('../fleet/orchestrator.js')
      const orch = await startOrchestrator(ctx, {
        slots,
        command: workerCommand(ctx.nc.getServer().startsWith('nats://') ? ctx.nc.getServer() : `nats://${ctx.nc.getServer()}`, env.home, ctx.subjects.prefix),
      })
      process.stdout.write(`orchestrator (pid ${process.pid}) keeps the fleet registry${n ? ` and ${n} workers` : ''}; \`ben status\` shows it; Ctrl-C to stop\n`)
      await untilSignal(log, async () => {
        await orch.stop()
        await ctx.close()
      })
    })
}
