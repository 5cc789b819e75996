import { hostname } from 'node:os'
import { Bucket, kvName, openBucket, type KV } from '../streams/index.js'
import { VERSION } from '../infra/version.js'
import type { RuntimeContext, Service } from '../infra/runtime.js'
import { unitService, type StageUnit } from '../processors/wiring/index.js'
import { announceOnConnect } from './hello.js'
import { releaseLease, renewLease, takeLease } from './lease.js'
import { unitKey } from './units.js'

export interface WorkerOptions {
  /** Worker id: stable across restarts of one slot (its leases carry it). */
  readonly id: string
  readonly units: readonly StageUnit[]
  /** A lease not renewed for this long may be taken by another worker. Default 5 s. */
  readonly leaseMs?: number
  /** Renewal (and take-over attempt) period. Default 1 s. */
  readonly renewMs?: number
  /**
   * Run the units' alert lanes in the process's alert thread (processors/wiring/alert-thread.ts),
   * apart from the routine lanes' event loop. Default true; BEN_WORKER_ALERT_THREAD=0 turns it off.
   */
  readonly alertThread?: boolean
}

export interface WorkerHandle extends Service {
  readonly id: string
  /** Units running now. */
  running(): string[]
  /** Resolves once every unit runs (tests, `ben run` banner). */
  readonly ready: Promise<void>
}

interface Slot {
  readonly unit: StageUnit
  readonly key: string
  state: 'idle' | 'starting' | 'running'
  revision?: number
  service?: Service
  busy: boolean
}

/**
 * A worker: runs the units it is given, each under a lease in KV `ben-fleet` (compare-and-set),
 * so that one unit never runs twice. A lease is renewed every `renewMs`; a unit whose lease is
 * held by another live worker waits and takes it over once that lease expires (the owner died
 * or stalled); a unit whose lease was taken meanwhile is stopped here. The renewals are the
 * worker's pulse: the orchestrator sees a quiet worker by its leases, not by heartbeats on
 * the data path. The worker announces itself on `ben.hello.worker.<id>` on start and after
 * every reconnect.
 */
export async function startWorker(ctx: RuntimeContext, o: WorkerOptions): Promise<WorkerHandle> {
  const leaseMs = o.leaseMs ?? 5000
  const renewMs = o.renewMs ?? 1000
  const alertThread = o.alertThread ?? process.env.BEN_WORKER_ALERT_THREAD !== '0'
  const kv: KV = await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Fleet))
  const slots: Slot[] = o.units.map((u) => ({ unit: u, key: unitKey(u), state: 'idle', busy: false }))
  const log = ctx.log
  let stopped = false
  let readyResolve!: () => void
  const ready = new Promise<void>((r) => (readyResolve = r))
  const stopAnnouncing = announceOnConnect(
    ctx.nc,
    ctx.subjects,
    ctx.registry,
    'worker',
    o.id,
    VERSION,
    () => ({ units: slots.map((s) => s.key).join(','), pid: String(process.pid), host: hostname(), leaseMs: String(leaseMs) }),
    (err) => log.warn({ err: err.message }, 'worker hello not stored'),
  )

  const stopUnit = async (s: Slot, why: string) => {
    const svc = s.service
    s.service = undefined
    s.state = 'idle'
    log.warn({ worker: o.id, unit: s.key }, `unit ${s.key} stopped here: ${why}`)
    await svc?.stop().catch((err) => log.warn({ unit: s.key, err: (err as Error).message }, 'unit did not stop cleanly'))
  }

  const step = async (s: Slot) => {
    if (s.state !== 'idle') {
      const rev = await renewLease(kv, s.key, o.id, leaseMs, s.revision!)
      if (rev !== undefined) s.revision = rev
      else if (s.state === 'running') await stopUnit(s, 'its lease was taken by another worker')
      return
    }
    const rev = await takeLease(kv, s.key, o.id, leaseMs)
    if (rev === undefined || stopped) return
    s.revision = rev
    s.state = 'starting'
    void start(s)
  }

  const start = async (s: Slot) => {
    try {
      const svc = await unitService(s.unit, { alertThread })(ctx)
      if (stopped) {
        await svc.stop()
        return
      }
      s.service = svc
      s.state = 'running'
      log.info({ worker: o.id, unit: s.key }, `unit ${s.key} runs on worker ${o.id}`)
      if (slots.every((x) => x.state === 'running')) readyResolve()
    } catch (err) {
      s.state = 'idle'
      log.error({ worker: o.id, unit: s.key, err: (err as Error).message }, `unit ${s.key} did not start; trying again`)
    }
  }

  const tick = () => {
    for (const s of slots) {
      if (s.busy || stopped) continue
      s.busy = true
      // renewals go on while a unit starts: starting can take longer than a lease
      if (s.state === 'starting') {
        void renewLease(kv, s.key, o.id, leaseMs, s.revision!).then((rev) => {
          if (rev !== undefined) s.revision = rev
          s.busy = false
        })
        continue
      }
      void step(s)
        .catch((err) => log.warn({ unit: s.key, err: (err as Error).message }, 'lease step failed'))
        .finally(() => (s.busy = false))
    }
  }
  tick()
  const timer = setInterval(tick, renewMs)
  timer.unref()
  return {
    name: `worker:${o.id}`,
    id: o.id,
    ready,
    running: () => slots.filter((s) => s.state === 'running').map((s) => s.key),
    async stop() {
      stopped = true
      clearInterval(timer)
      stopAnnouncing()
      await Promise.all(
        slots.map(async (s) => {
          const svc = s.service
          s.service = undefined
          await svc?.stop().catch(() => undefined)
          if (s.revision !== undefined && s.state !== 'idle') await releaseLease(kv, s.key, s.revision)
          s.state = 'idle'
        }),
      )
    },
  }
}
