import { spawn, type ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import type { Subscription } from 'rxjs'
import { Bucket, followSubjects, kvName, openBucket, type KV } from '../streams/index.js'
import type { Hello } from '../schemas/index.js'
import type { RuntimeContext, Service } from '../infra/index.js'
import type { StageUnit } from '../processors/wiring/index.js'
import { leaseKey, parseLease, type Lease } from './lease.js'
import type { FleetEntry } from './registry.js'
import { unitKey } from './units.js'

export interface WorkerSlot {
  readonly id: string
  readonly units: readonly StageUnit[]
}

export interface OrchestratorOptions {
  /** Worker processes this orchestrator starts and restarts (`ben up --workers N`). */
  readonly slots?: readonly WorkerSlot[]
  /** The command line of a worker process for a slot. */
  command?(slot: WorkerSlot): { cmd: string; args: string[]; env: NodeJS.ProcessEnv }
  /** A worker whose leases were not renewed for this long is quiet. Default 3 s. */
  readonly quietMs?: number
}

interface Seen {
  hello?: Hello
  helloAt: number
  lastSeen: number
  restarts: number
}

interface Child {
  readonly slot: WorkerSlot
  proc?: ChildProcess
  restarts: number
  /** Consecutive quick deaths: back-off before the next start. */
  strikes: number
  startedAt: number
  restarting: boolean
}

/**
 * The orchestrator: keeps the fleet registry in KV `ben-fleet` from the hellos on `ben.hello.>`
 * (HELLO keeps them for an orchestrator that starts late) and the partition leases; starts the
 * worker processes of its slots and starts one again when it exits or goes quiet (its leases
 * expire unrenewed): a killed worker's units are processed again as soon as its successor has
 * taken over the leases, which the orchestrator frees at once when it saw the process die.
 */
export async function startOrchestrator(
  ctx: RuntimeContext,
  o: OrchestratorOptions = {},
): Promise<Service & { registry(): FleetEntry[]; children(): Array<{ id: string; pid?: number; restarts: number }> }> {
  const kv: KV = await openBucket(ctx.nc, kvName(ctx.topo, Bucket.Fleet))
  const quietMs = o.quietMs ?? 3000
  const log = ctx.log
  const seen = new Map<string, Seen>()
  const leases = new Map<string, { lease: Lease; revision: number; at: number }>()
  const children = new Map<string, Child>()
  let stopped = false

  const touch = (id: string): Seen => {
    let s = seen.get(id)
    if (!s) seen.set(id, (s = { helloAt: 0, lastSeen: 0, restarts: 0 }))
    return s
  }

  // hellos: the latest of each part, from the last 10 minutes of HELLO, then as they come
  const hellos: Subscription = followSubjects(ctx.nc, ctx.registry, ctx.subjects.helloAll, { deliver: 'since', time: new Date(Date.now() - 600_000) }).subscribe({
    next: (d) => {
      if (!d.result.ok) return
      const h = d.result.value as Hello
      const id = `${h.component}.${h.instance}`
      const s = touch(id)
      if (!s.hello || s.hello.ts <= h.ts) {
        s.hello = h
        s.helloAt = d.time
        s.lastSeen = Math.max(s.lastSeen, d.time)
      }
    },
    error: (err) => log.warn({ err: (err as Error).message }, 'orchestrator: hello feed stopped'),
  })

  // leases: every renewal is a sign of life of its worker
  const watch = await kv.watch({ key: 'lease.>' })
  void (async () => {
    for await (const e of watch) {
      const unit = e.key.slice('lease.'.length)
      if (e.operation !== 'PUT') {
        leases.delete(unit)
        continue
      }
      const l = parseLease(e.string())
      if (!l) continue
      leases.set(unit, { lease: l, revision: e.revision, at: Date.now() })
      touch(`worker.${l.worker}`).lastSeen = Date.now()
    }
  })().catch((err) => log.warn({ err: (err as Error).message }, 'orchestrator: lease watch ended'))

  const launch = (c: Child) => {
    if (stopped || !o.command) return
    const { cmd, args, env } = o.command(c.slot)
    // stdin a pipe we never write: it closes when this process dies (even by SIGKILL), and a worker
    // started with BEN_PARENT_WATCH=stdin then stops, rather than outliving us holding its leases.
    const proc = spawn(cmd, args, { env: { ...env, BEN_PARENT_WATCH: 'stdin' }, stdio: ['pipe', 'ignore', 'pipe'] })
    proc.stdin?.on('error', () => undefined)
    c.proc = proc
    c.startedAt = Date.now()
    c.restarting = false
    let stderr = ''
    proc.stderr?.on('data', (b: Buffer) => void (stderr = (stderr + b.toString()).slice(-2000)))
    proc.on('exit', (code, signal) => {
      if (c.proc !== proc) return
      c.proc = undefined
      if (stopped) return
      log.warn({ worker: c.slot.id, code, signal, stderr: stderr.trim().slice(-1500) }, `worker ${c.slot.id} exited (${signal ?? `code ${code}`}): starting it again`)
      void restart(c)
    })
    log.info({ worker: c.slot.id, pid: proc.pid, units: c.slot.units.map(unitKey) }, `worker ${c.slot.id} started`)
  }

  const restart = async (c: Child) => {
    if (c.restarting || stopped) return
    c.restarting = true
    c.restarts++
    touch(`worker.${c.slot.id}`).restarts = c.restarts
    // It is dead (we saw it exit): its leases are free now rather than when they expire.
    await freeLeasesOf(c.slot.id)
    c.strikes = Date.now() - c.startedAt < 10_000 ? c.strikes + 1 : 0
    const delay = c.strikes <= 1 ? 0 : Math.min(10_000, 500 * 2 ** (c.strikes - 2))
    setTimeout(() => launch(c), delay).unref()
  }

  const freeLeasesOf = async (worker: string) => {
    for (const [unit, l] of leases) {
      if (l.lease.worker !== worker) continue
      await kv.delete(leaseKey(unit), { previousSeq: l.revision }).catch(() => undefined)
    }
  }

  for (const slot of o.slots ?? []) {
    const c: Child = { slot, restarts: 0, strikes: 0, startedAt: 0, restarting: false }
    children.set(slot.id, c)
    launch(c)
  }

  const registry = (): FleetEntry[] => {
    const now = Date.now()
    const out: FleetEntry[] = []
    for (const [id, s] of seen) {
      const h = s.hello
      const component = h?.component ?? id.split('.')[0]
      const instance = h?.instance ?? id.slice(component.length + 1)
      const holding = [...leases].filter(([, l]) => l.lease.worker === instance && l.lease.until > now).map(([u]) => u)
      const child = component === 'worker' ? children.get(instance) : undefined
      const quiet = component === 'worker' ? holding.length === 0 && now - s.lastSeen > quietMs : false
      out.push({
        id: instance,
        component,
        version: h?.version ?? '?',
        host: h?.info.host ?? (component === 'ben-up' ? (h?.instance.split(':')[0] ?? '?') : '?'),
        pid: child?.proc?.pid ?? (h?.info.pid ? Number(h.info.pid) : null),
        units: h?.info.units ? h.info.units.split(',').filter(Boolean) : [],
        holding,
        announced: h ? new Date(s.helloAt).toISOString() : '',
        lastSeen: new Date(s.lastSeen).toISOString(),
        state: child?.restarting ? 'restarting' : quiet ? 'quiet' : 'up',
        restarts: child?.restarts ?? s.restarts,
      })
    }
    return out.sort((a, b) => (a.component + a.id < b.component + b.id ? -1 : 1))
  }

  // Watchdog: a child of ours whose leases went unrenewed is hung: kill it (ours, by handle);
  // its exit starts it again. The registry is written to KV for `ben status`.
  const written = new Map<string, string>()
  const timer = setInterval(() => {
    const now = Date.now()
    for (const c of children.values()) {
      if (!c.proc || c.restarting || now - c.startedAt < 30_000) continue
      const last = seen.get(`worker.${c.slot.id}`)?.lastSeen ?? 0
      if (now - last > Math.max(quietMs, 10_000)) {
        log.warn({ worker: c.slot.id, quietMs: now - last }, `worker ${c.slot.id} went quiet: killing it to start it again`)
        c.proc.kill('SIGKILL')
      }
    }
    for (const e of registry()) {
      const key = `${e.component}.${e.id}`.replace(/[^-/_=.a-zA-Z0-9]/g, '_')
      const { lastSeen: _l, ...rest } = e
      const sig = JSON.stringify(rest)
      // lastSeen alone changes every second: written at most every 5 s unless something else changed
      const prev = written.get(key)
      if (prev === sig && now - (seenWritten.get(key) ?? 0) < 5000) continue
      written.set(key, sig)
      seenWritten.set(key, now)
      void kv.put(`fleet.${key}`, JSON.stringify({ ...e, orchestrator: `${hostname()}:${process.pid}` })).catch(() => undefined)
    }
  }, 1000)
  const seenWritten = new Map<string, number>()
  timer.unref()

  return {
    name: 'orchestrator',
    registry,
    children: () => [...children.values()].map((c) => ({ id: c.slot.id, pid: c.proc?.pid, restarts: c.restarts })),
    async stop() {
      stopped = true
      clearInterval(timer)
      hellos.unsubscribe()
      watch.stop()
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              const p = c.proc
              if (!p || p.exitCode !== null) return resolve()
              const t = setTimeout(() => p.kill('SIGKILL'), 20_000)
              p.once('exit', () => {
                clearTimeout(t)
                resolve()
              })
              p.kill('SIGTERM')
            }),
        ),
      )
    },
  }
}
