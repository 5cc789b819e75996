import type { Worker } from 'node:worker_threads'
import type { NatsConnection } from '@nats-io/nats-core'
import type { RuntimeContext, Service } from '../../infra/runtime.js'
import { partitionLabel } from '../../streams/index.js'
import { alertNice, launchStageThread, stopThread, threadData } from './alert-path.js'
import type { AlertPathReport, HostedUnit, StageThreadRequest } from './alert-path-thread.js'
import { stageServiceName } from './service.js'

/** Wait before a thread that died is started again (ms). */
const RESTART_MS = 1000
const NAME = 'alert-thread'

interface Pending {
  resolve(ok: boolean, message?: string): void
}

/**
 * A worker process's alert thread (issue 8, the lanes' promise under `ben up --workers N` and
 * `ben run`): the alert lanes of the units the worker owns run here — scrub's alert lane of each
 * scrub partition, and policy whole — on NATS connections, an event loop and a heap of their own,
 * at the alert path's raised priority (alert-path.ts). Without it an alert shares the worker's
 * event loop with the routine lanes' flood (scrub's routine lane, detect), whatever the lanes'
 * priority inside one runner.
 *
 * One thread per process, started with its first unit and ended with its last; units come and
 * go one by one as the worker takes and loses its leases (fleet/worker.ts). A thread that dies is
 * started again after a second with the units it ran (they resume from their checkpoints).
 */
class AlertThread {
  private worker?: Worker
  private launching?: Promise<Worker>
  private readonly units = new Map<string, HostedUnit>()
  private readonly pending = new Map<string, Pending>()
  /** Starts and stops one at a time: the thread's state never races the map. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly ctx: RuntimeContext) {}

  /** Runs `unit` in the thread; resolves once it runs there, rejects if it could not start. */
  start(key: string, unit: HostedUnit): Promise<void> {
    return this.serial(async () => {
      const w = await this.thread()
      this.units.set(key, unit)
      const r = await this.ask(w, { type: 'start', key, unit }, 'unit')
      if (!r.ok) {
        this.units.delete(key)
        await this.endIfIdle()
        throw new Error(`${key} did not start in the alert thread: ${r.message ?? 'unknown'}`)
      }
    })
  }

  /** Stops `key` in the thread (final checkpoint, drain); the thread ends with its last unit. */
  stop(key: string): Promise<void> {
    return this.serial(async () => {
      if (!this.units.delete(key)) return
      const w = this.worker
      if (w) await this.ask(w, { type: 'stop-unit', key }, 'unit-stopped')
      await this.endIfIdle()
    })
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  private async endIfIdle(): Promise<void> {
    if (this.units.size) return
    const w = this.worker
    this.worker = undefined
    if (w) await stopThread(w)
  }

  /** The running thread, started if there is none. */
  private thread(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker)
    this.launching ??= launchStageThread(
      threadData(this.ctx, alertNice(this.ctx.env), NAME, []),
      this.ctx.log,
      (w, code) => this.ended(w, code),
      (m) => this.answer(m),
    ).then(
      (w) => {
        this.launching = undefined
        this.worker = w
        return w
      },
      (err: unknown) => {
        this.launching = undefined
        throw err
      },
    )
    return this.launching
  }

  /** Posts a request and waits for the thread's answer about that key (or its end). */
  private ask(w: Worker, req: StageThreadRequest, answer: 'unit' | 'unit-stopped'): Promise<{ ok: boolean; message?: string }> {
    return new Promise((resolve) => {
      this.pending.set(`${answer} ${req.key}`, { resolve: (ok, message) => resolve({ ok, message }) })
      w.postMessage(req)
    })
  }

  private answer(m: AlertPathReport): void {
    if (m.type !== 'unit' && m.type !== 'unit-stopped') return
    const id = `${m.type} ${m.key}`
    const p = this.pending.get(id)
    this.pending.delete(id)
    p?.resolve(m.type === 'unit-stopped' || m.ok, m.type === 'unit' ? m.message : undefined)
  }

  /** The thread ended unasked: what waited on it is answered, and it is started again with its units. */
  private ended(w: Worker, code: number): void {
    if (this.worker !== w) return
    this.worker = undefined
    for (const [id, p] of this.pending) if (id.startsWith('unit-stopped ')) p.resolve(true)
    for (const [id, p] of this.pending) if (id.startsWith('unit ')) p.resolve(false, `the thread ended (code ${code})`)
    this.pending.clear()
    if (!this.units.size) return
    this.ctx.log.error({ code, thread: NAME, units: [...this.units.keys()] }, `the ${NAME} ended: starting it again with its units`)
    const again = (): void => {
      const t = setTimeout(() => {
        void this.serial(async () => {
          if (!this.units.size || this.worker) return
          const nw = await this.thread()
          for (const [key, unit] of this.units) {
            const r = await this.ask(nw, { type: 'start', key, unit }, 'unit')
            if (!r.ok) throw new Error(`${key}: ${r.message ?? 'unknown'}`)
          }
        }).catch((err: Error) => {
          this.ctx.log.error({ err: err.message, thread: NAME }, `the ${NAME} did not start again: trying again`)
          const cur = this.worker
          this.worker = undefined
          void (cur ? stopThread(cur) : Promise.resolve()).then(again)
        })
      }, RESTART_MS)
      t.unref()
    }
    again()
  }
}

/** One alert thread per process (per main connection: a process may host several Bens in tests). */
const threads = new WeakMap<NatsConnection, AlertThread>()

/** `stage:scrub#p0of2#urgent`: what the unit is called in the thread (and in logs). */
export function hostedUnitName(u: HostedUnit): string {
  return stageServiceName(u.stage, u.partition, u.lanes)
}

/** Runs `unit` in this process's alert thread (started on first use); the service stops it there. */
export async function runInAlertThread(ctx: RuntimeContext, unit: HostedUnit): Promise<Service> {
  let t = threads.get(ctx.nc)
  if (!t) threads.set(ctx.nc, (t = new AlertThread(ctx)))
  const key = `${unit.stage}${unit.partition ? `.${partitionLabel(unit.partition)}` : ''}#${unit.lanes}`
  await t.start(key, unit)
  const thread = t
  return {
    name: `${NAME}(${hostedUnitName(unit)})`,
    stop: () => thread.stop(key),
  }
}
