/**
 * A stage thread (alert-path.ts): some of `ben up`'s stage services on connections, an event loop
 * and a heap of their own — the alert path (scrub's alert lane, policy and act), or one half of the
 * detect path (scrub's routine lanes; detect). Started by `alertPathService` / `detectPathServices`; stops on
 * `{ type: 'stop' }` (final checkpoints, drain) and then ends.
 */
import { getPriority, setPriority } from 'node:os'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { connectNats } from '../../infra/nats-connect.js'
import { createLogger, silentLogger } from '../../infra/log.js'
import type { BenEnv } from '../../infra/config.js'
import { runtimeContext, type Service } from '../../infra/runtime.js'
import { metricsRegistry, Subjects, type MetricSnapshot, type Partition, type TopologyOptions } from '../../streams/index.js'
import type { StageName } from '../pipeline.js'
import { LaneSet } from './service.js'
import { actService, detectService, laneUnitService, policyService, scrubService } from './stages.js'

/** The stage services a thread may run. */
export type ThreadUnit = 'scrub-urgent' | 'scrub-routine' | 'detect' | 'policy' | 'act'

const UNITS = {
  'scrub-urgent': () => scrubService(LaneSet.Urgent),
  'scrub-routine': () => scrubService(LaneSet.Routine),
  detect: () => detectService(),
  policy: () => policyService(),
  act: () => actService(),
} as const satisfies Record<ThreadUnit, unknown>

/**
 * A unit a worker's alert thread runs (alert-thread.ts), started and stopped one by one as the
 * worker takes and loses its leases: some lanes (all, or the urgent ones) of a stage's partition.
 */
export interface HostedUnit {
  readonly stage: Exclude<StageName, 'act'>
  readonly partition?: Partition
  readonly lanes: LaneSet
}

/** What the main thread asks of a stage thread besides `{ type: 'stop' }` (everything, then end). */
export type StageThreadRequest = { readonly type: 'start'; readonly key: string; readonly unit: HostedUnit } | { readonly type: 'stop-unit'; readonly key: string }

/** What the main thread hands the alert path's thread. */
export interface AlertPathData {
  /** `ben up`'s environment, with `natsUrl` set to the servers it is connected to. */
  readonly env: BenEnv
  readonly topo: Omit<TopologyOptions, 'subjects'>
  readonly logLevel: string
  /** Nice value of the thread relative to the process's (negative: scheduled first); 0 leaves it. */
  readonly nice: number
  /** The thread's name (`alert-path`, `scrub-path`, `detect-path`): its log name and connection name. */
  readonly name: string
  /** The stage services it runs, in this order. */
  readonly units: readonly ThreadUnit[]
}

/** What the thread tells the main thread. */
export type AlertPathReport =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  /** Its stages' metrics (every METRICS_EVERY_MS): the process's registry takes them in (absorbMetrics). */
  | { readonly type: 'metrics'; readonly metrics: MetricSnapshot[] }
  /** A hosted unit runs (ok), or did not start (the main thread tries again). */
  | { readonly type: 'unit'; readonly key: string; readonly ok: boolean; readonly message?: string }
  | { readonly type: 'unit-stopped'; readonly key: string }
  /** A line it logged: the process writes it to its own log file (infra/log.ts writeForwarded). */
  | { readonly type: 'log'; readonly line: string }

/** How often a stage thread reports its metrics to the process. */
const METRICS_EVERY_MS = 1000

async function main(data: AlertPathData): Promise<void> {
  const port = parentPort!
  const { env } = data
  // Its lines go to the process, which writes them to its log file: one writer per file (writeForwarded).
  const log =
    data.logLevel === 'silent'
      ? silentLogger()
      : createLogger({ level: data.logLevel, name: `ben-${data.name}`, forward: (line) => port.postMessage({ type: 'log', line } satisfies AlertPathReport) })
  prioritise(data.nice, log)
  const nc = await connectNats(env.natsUrl!, env, `ben-${data.name}`)
  const subjects = new Subjects(env.prefix)
  const topo = { ...data.topo, subjects } satisfies TopologyOptions
  const ctx = runtimeContext({
    env,
    nc,
    topo,
    log,
    warehouse: () => {
      throw new Error(`the ${data.name} thread runs stages only: it has no ClickHouse`)
    },
  })
  const publisher = ctx.publisher
  const services: Service[] = []
  const hosted = new Map<string, Promise<Service | undefined>>()
  const stopOne = (s: Service) => s.stop().catch((err) => log.warn({ service: s.name, err: (err as Error).message }, `${data.name}: a stage did not stop cleanly`))
  const close = async (): Promise<void> => {
    for (const s of services.splice(0).reverse()) await stopOne(s)
    const left = [...hosted.values()]
    hosted.clear()
    for (const s of await Promise.all(left)) if (s) await stopOne(s)
    await publisher.close().catch(() => undefined)
    await nc.drain().catch(() => nc.close())
    log.flush?.()
  }
  let stopping = false
  port.on('message', (m: { type?: string } | StageThreadRequest) => {
    if (m?.type === 'start' || m?.type === 'stop-unit') return void host(m as StageThreadRequest)
    if (m?.type !== 'stop' || stopping) return
    stopping = true
    // process.exit in a worker thread ends the thread only (whatever timer a library left).
    void close().finally(() => process.exit(0))
  })
  try {
    for (const make of data.units.map((u) => UNITS[u]())) {
      if (stopping) break
      services.push(await make(ctx))
    }
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies AlertPathReport)
    await close()
    process.exit(1)
  }
  /** Starts or stops a hosted unit; one at a time per key (the main thread waits for each answer). */
  const host = async (m: StageThreadRequest): Promise<void> => {
    if (m.type === 'start') {
      if (stopping) return port.postMessage({ type: 'unit', key: m.key, ok: false, message: 'the thread is stopping' } satisfies AlertPathReport)
      if (hosted.has(m.key)) return port.postMessage({ type: 'unit', key: m.key, ok: true } satisfies AlertPathReport)
      const started = Promise.resolve()
        .then(() => laneUnitService(m.unit)(ctx))
        .then(
          (s) => {
            log.info({ service: s.name }, `${data.name}: ${s.name} runs in this thread`)
            port.postMessage({ type: 'unit', key: m.key, ok: true } satisfies AlertPathReport)
            return s
          },
          (err: Error) => {
            hosted.delete(m.key)
            port.postMessage({ type: 'unit', key: m.key, ok: false, message: err.message } satisfies AlertPathReport)
            return undefined
          },
        )
      hosted.set(m.key, started)
      return
    }
    const s = await hosted.get(m.key)
    hosted.delete(m.key)
    if (s) await stopOne(s)
    port.postMessage({ type: 'unit-stopped', key: m.key } satisfies AlertPathReport)
  }
  log.info({ services: services.map((s) => s.name) }, `${data.name}: its stages run in their own thread`)
  port.postMessage({ type: 'ready' } satisfies AlertPathReport)
  const report = (): void =>
    void metricsRegistry.getMetricsAsJSON().then(
      (metrics) => port.postMessage({ type: 'metrics', metrics: metrics as unknown as MetricSnapshot[] } satisfies AlertPathReport),
      () => undefined,
    )
  setInterval(report, METRICS_EVERY_MS).unref()
}

/**
 * Raises this thread's scheduling priority by `nice` (Linux: the nice value is per thread, and
 * `setpriority(PRIO_PROCESS, 0)` sets the calling thread's): on a machine busier than its cores an
 * alert then waits less for a CPU behind the routine lanes' threads. Raising needs CAP_SYS_NICE
 * (root, or `setcap cap_sys_nice+ep` on node); without it the thread runs at the process's priority.
 */
function prioritise(nice: number, log: ReturnType<typeof silentLogger>): void {
  if (!nice) return
  const from = getPriority(0)
  const to = Math.max(-20, Math.min(19, from + nice))
  try {
    setPriority(0, to)
    log.info({ from, to }, 'stage thread: priority raised')
  } catch (err) {
    log.info({ from, to, err: (err as Error).message }, 'stage thread: priority not raised (needs CAP_SYS_NICE): it runs at the process priority')
  }
}

if (!isMainThread && parentPort) {
  main(workerData as AlertPathData).catch((err: Error) => {
    parentPort!.postMessage({ type: 'failed', message: err.message } satisfies AlertPathReport)
    process.exit(1)
  })
}
