import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { builtScript } from '../../infra/built.js'
import { homePaths, type BenEnv } from '../../infra/config.js'
import { writeForwarded } from '../../infra/log.js'
import type { RuntimeContext, Service, ServiceFactory } from '../../infra/runtime.js'
import { absorbMetrics } from '../../streams/index.js'
import { LaneSet, stageServiceName } from './service.js'
import type { AlertPathData, AlertPathReport, ThreadUnit } from './alert-path-thread.js'

export type { ThreadUnit } from './alert-path-thread.js'

export interface AlertPathOptions {
  /** Wait before a thread that died is started again (ms). Default 1 s. */
  readonly restartMs?: number
  /**
   * The thread's nice value relative to the process (alert-path-thread.ts `prioritise`). Default
   * BEN_ALERT_PATH_NICE, else -20; 0 leaves its priority alone.
   */
  readonly nice?: number
}

/**
 * Default nice of the alert path's thread, relative to the process (clamped at -20). -20: under
 * bench:latency's flood (load 12-15 per core) the thread at -5 waited 3-8 ms in the run queue per
 * wake-up (/proc/<pid>/task/<tid>/schedstat), and an alert's time from stored in FACTS to its
 * decision's PubAck was p50 30-36 / p99 233-257 ms; at -20, 15 / 68 ms (bench/alert-trace.ts).
 * The thread uses little CPU (alerts, policy's anomaly lane: under 2 % of a core in the flood).
 */
const ALERT_NICE = -20

/**
 * The alert path (issue 8, the lanes' promise under overload): scrub's alert lane, policy and act
 * run in a worker thread of their own, with their own NATS connections, event loop and heap. Under a
 * routine flood the main thread's loop is saturated (scrub's routine lane, detect, the projectors,
 * their GC): an alert applied on it waits for that loop, whatever the lanes' priority inside one
 * runner. In a thread of its own the OS scheduler decides when an alert runs.
 *
 * The split changes no output: scrub has no state, so running its alert lane in another runner
 * (its own durable as before, its own checkpoint `stage.scrub.urgent`) derives the same facts;
 * policy and act run whole (all their lanes, their state) in the thread. Act is there because a
 * decision's command is on the alert path too: on the main thread, beside the projectors (chDB
 * runs its inserts on the calling thread), a decision waited for their work before it was signed
 * and sent. `ben up` runs incident and the projectors in the main thread (`defaultServices`).
 *
 * A thread that dies is started again after `restartMs` (its stages resume from their
 * checkpoints, as after a restart of `ben up`).
 */
export function alertPathService(opts: AlertPathOptions = {}): ServiceFactory {
  return stageThreadService('alert-path', ['scrub-urgent', 'policy', 'act'], { ...opts, nice: (ctx) => alertNice(ctx.env, opts.nice) })
}

/** The alert path's nice: `nice` if given, else BEN_ALERT_PATH_NICE (`env.alertPathNice`), else -20 (also a worker's alert thread, alert-thread.ts). */
export function alertNice(env: BenEnv, nice?: number): number {
  return nice ?? env.alertPathNice ?? ALERT_NICE
}

/**
 * Default nice of the scrub-path and detect-path threads, relative to the process: below the alert
 * path (-20), above the main thread (the projectors, incident, chDB's inserts and merges) and the
 * garbage collector's helpers. bench:latency's bursty phase (`BENCH_LOADS=sparse,bursty`, 2 cores):
 * a burst keeps every thread of the machine busy for a few hundred ms, and at the process's priority
 * the routine path waited in the run queue behind them (5 runs: publish → scrubbed p99 68–121 ms, →
 * anomaly p99 13–133 ms); at -10, with scrub and detect in threads of their own, 11–36 and 10–28 ms
 * (11 runs). Those runs had the bench's probe publisher in Ben's session, behind these threads; in a
 * session of its own (as a publisher on another host) probes also land inside bursts: 8–43 and
 * 14–75 ms (9 runs), the slowest waiting between stored and received in a stage during the burst.
 */
const DETECT_NICE = -10

/**
 * The detect path (issue 8, bursty load: publish → anomaly): scrub's routine lanes and detect, each
 * in a worker thread of its own (`scrub-path`, `detect-path`), like the alert path. On `ben up`'s
 * main thread a fact on its way to an anomaly waited for whatever else that loop ran — the
 * projectors (decoding, building rows, ClickHouse inserts: chDB runs on the calling thread),
 * incident, the query service, their garbage collection: bench:latency's bursty phase showed a
 * probe waiting up to ~500 ms between its delivery to scrub and its turn, with the main loop delayed
 * by up to 340 ms. Scrub and detect in one thread still waited for each other: during a burst each
 * turn of that thread's loop ran a slice of both and their consumers (up to 30 ms), and a probe
 * arriving meanwhile was read from the socket only at the next turn, in each of the two stages. In
 * threads of their own a fact is delayed only by its stage's own work (which serves sources fairly),
 * and the OS runs the two side by side. Both run at BEN_DETECT_PATH_NICE (default -10): below the
 * alert path, above the rest of the process.
 */
export function detectPathServices(): ServiceFactory[] {
  const nice = (ctx: RuntimeContext) => ctx.env.detectPathNice ?? DETECT_NICE
  return [stageThreadService('scrub-path', ['scrub-routine'], { nice }), stageThreadService('detect-path', ['detect'], { nice })]
}

/** Runs `units` (stage services) in a worker thread named `name`, started again if it dies. */
function stageThreadService(name: string, units: readonly ThreadUnit[], opts: Omit<AlertPathOptions, 'nice'> & { readonly nice: (ctx: RuntimeContext) => number }): ServiceFactory {
  return async (ctx: RuntimeContext): Promise<Service> => {
    const data = threadData(ctx, opts.nice(ctx), name, units)
    const log = ctx.log
    let stopping = false
    let current: Worker | undefined
    let restart: NodeJS.Timeout | undefined

    const launch = (): Promise<Worker> =>
      launchStageThread(data, log, (w, code) => {
        if (stopping || current !== w) return
        current = undefined
        log.error({ code, thread: name }, `the ${name} thread ended: starting it again`)
        schedule()
      })

    const schedule = (): void => {
      restart = setTimeout(() => {
        restart = undefined
        if (stopping) return
        launch().then(
          (w) => {
            if (stopping) void stopThread(w)
            else current = w
          },
          (err: Error) => {
            log.error({ err: err.message, thread: name }, `the ${name} did not start: trying again`)
            schedule()
          },
        )
      }, opts.restartMs ?? 1000)
      restart.unref()
    }

    current = await launch()
    return {
      // What it runs, for ben up's HELLO and logs: `detect-path(stage:scrub#routine+stage:detect)`.
      name: `${name}(${units.map(unitName).join('+')})`,
      async stop() {
        stopping = true
        if (restart) clearTimeout(restart)
        const w = current
        current = undefined
        if (w) await stopThread(w)
      },
    }
  }
}

/**
 * Turns off V8's memory reducer for the isolates created from now on (the flag is the process's;
 * a thread's isolate reads it when it is set up). The reducer shrinks a heap that looks idle by full
 * mark-compacts of its own, and a stage thread between bursts looks idle to it: in bench:latency's
 * bursty phase those collections paused the scrub and detect threads 27–54 ms (`node --trace-gc`,
 * "Mark-Compact (reduce)"), the pause of a probe applied just then, where the threads' other
 * mark-compacts took under 10 ms. A stage thread's heap is small and reused by the next burst, so
 * holding on to it costs little; ordinary collections still run as it grows.
 */
function withoutMemoryReducer(): void {
  setFlagsFromString('--no-memory-reducer')
}

/**
 * Starts a stage thread; resolves once its stages run (rejects if it failed to start them).
 * `onMessage` gets what else it reports; `ended` is called if it ends after that (not asked to).
 */
export function launchStageThread(
  data: AlertPathData,
  log: RuntimeContext['log'],
  ended: (w: Worker, code: number) => void,
  onMessage: (m: AlertPathReport) => void = () => undefined,
): Promise<Worker> {
  const name = data.name
  withoutMemoryReducer()
  return new Promise((resolve, reject) => {
    const w = new Worker(builtScript('alert-path-thread.js', import.meta.url), { workerData: data, name: `ben-${name}` })
    let ready = false
    w.on('message', (m: AlertPathReport) => {
      if (m.type === 'ready') {
        ready = true
        resolve(w)
      } else if (m.type === 'log') writeForwarded(log, homePaths(data.env.home).log, m.line)
      else if (m.type === 'metrics') absorbMetrics(name, m.metrics)
      else if (m.type === 'failed' && !ready) reject(new Error(`the ${name} did not start: ${m.message}`))
      else onMessage(m)
    })
    w.on('error', (err) => {
      if (!ready) reject(err)
      else log.error({ err: err.message, thread: name }, `the ${name} thread failed: starting it again (its stages resume from their checkpoints)`)
    })
    w.on('exit', (code) => {
      if (!ready) return reject(new Error(`the ${name} thread exited (code ${code}) before its stages ran`))
      ended(w, code)
    })
  })
}

/** The service name of a unit, as it would be named in the main thread (service.ts). */
function unitName(u: ThreadUnit): string {
  if (u === 'scrub-urgent') return stageServiceName('scrub', undefined, LaneSet.Urgent)
  if (u === 'scrub-routine') return stageServiceName('scrub', undefined, LaneSet.Routine)
  return stageServiceName(u)
}

/** Asks the thread to stop its stages (final checkpoints, drain) and waits for it to end. */
export function stopThread(w: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    w.once('exit', () => resolve())
    w.postMessage({ type: 'stop' })
  })
}

/** What the thread needs to join this Ben: the same servers, credentials, prefix and topology. */
export function threadData(ctx: RuntimeContext, nice: number, name: string, units: readonly ThreadUnit[]): AlertPathData {
  const options = (ctx.nc as unknown as { options?: { servers?: string | string[] } }).options
  const servers = options?.servers ?? ctx.nc.getServer()
  const url = (Array.isArray(servers) ? servers : [servers]).map((s) => (s.includes('://') ? s : `nats://${s}`)).join(',')
  const { subjects, ...topo } = ctx.topo
  return {
    env: { ...ctx.env, natsUrl: url, prefix: subjects.prefix },
    topo: JSON.parse(JSON.stringify(topo)) as AlertPathData['topo'],
    logLevel: String((ctx.log as { level?: unknown }).level ?? 'info'),
    nice,
    name,
    units: [...units],
  }
}
