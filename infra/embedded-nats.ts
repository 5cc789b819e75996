import { startNatsServer, type NatsServerHandle, type NatsServerOptions, type SpawnedServer } from './nats-server.js'
import type { Logger } from './log.js'
import { resolve } from 'node:path'
import { runsNatsServer, signalIfSame, stopProcess, terminateAllSync, type ProcessIdentity } from './process-identity.js'

/** How the JetStream of the supervised server answers a probe. */
export const ProbeResult = { Ok: 'ok', JetStreamDisabled: 'jetstream_disabled', JetStreamStuck: 'jetstream_stuck', Unreachable: 'unreachable' } as const
export type ProbeResult = (typeof ProbeResult)[keyof typeof ProbeResult]

export interface SupervisedNatsOptions extends NatsServerOptions {
  readonly log: Logger
  /** First restart delay; doubled after each failed attempt up to `maxBackoffMs`. Default 250 ms. */
  readonly minBackoffMs?: number
  /** Default 5 s: a stall ends within seconds of the cause clearing. */
  readonly maxBackoffMs?: number
  /** Probe period (JetStream disabled or stuck after a full disk). Default 3 s. */
  readonly probeEveryMs?: number
  /** Consecutive "JetStream disabled" probes before a restart. Default 2. */
  readonly disabledProbes?: number
}

/**
 * The embedded nats-server under supervision: when it exits (SIGKILL, crash, OOM) it is started
 * again on the same port with the same store, so clients reconnect by themselves. When its
 * JetStream has switched itself off (nats-server does that when the disk fills up), it is
 * restarted once the probe has seen it twice. Restarts back off from 250 ms to 5 s and are
 * logged once per change of state, not once per attempt.
 */
export class SupervisedNats {
  private server: NatsServerHandle
  private stopped = false
  private restarting: Promise<void> | undefined
  private probeTimer: NodeJS.Timeout | undefined
  private probe: (() => Promise<ProbeResult>) | undefined
  private disabledSeen = 0
  private lastProbe: ProbeResult = ProbeResult.Ok
  private hold: Promise<void> | undefined
  private readonly listeners: Array<(s: NatsServerHandle) => void> = []
  /** Servers started after the first (for tests and `ben up`'s status). */
  restarts = 0

  private constructor(
    first: NatsServerHandle,
    private readonly opts: SupervisedNatsOptions,
    private readonly spawned: Spawned,
  ) {
    this.server = first
    this.watch(first)
    const p = first.priority
    if (p?.error)
      opts.log.info(
        { pid: first.pid, ...p },
        "embedded nats-server: priority not raised (a negative BEN_NATS_NICE needs CAP_SYS_NICE): it runs at the priority of Ben's stages, and under a flood alerts wait for it with them",
      )
    else if (p) opts.log.info({ pid: first.pid, ...p }, 'embedded nats-server: priority set')
  }

  static async start(opts: SupervisedNatsOptions): Promise<SupervisedNats> {
    const spawned = new Spawned()
    return new SupervisedNats(await startNatsServer({ ...opts, onSpawn: spawned.add }), opts, spawned)
  }

  get url(): string {
    return this.server.url
  }
  get port(): number {
    return this.server.port
  }
  get pid(): number {
    return this.server.pid
  }
  get identity(): ProcessIdentity {
    return this.server.identity
  }

  /** Called with each replacement server (its pid changed). */
  onRestart(cb: (s: NatsServerHandle) => void): void {
    this.listeners.push(cb)
  }

  /**
   * Until the returned function is called, a server that dies is not started again: a cluster
   * node stays down for as long as a test (or an operator) needs, then comes back as usual.
   */
  holdRestarts(): () => void {
    let release!: () => void
    this.hold = new Promise<void>((r) => (release = r))
    return () => {
      this.hold = undefined
      release()
    }
  }

  /** Starts probing JetStream through a client connection (after it exists). */
  probeWith(probe: () => Promise<ProbeResult>): void {
    this.probe = probe
    if (this.probeTimer) return
    this.probeTimer = setInterval(() => void this.runProbe(), this.opts.probeEveryMs ?? 3000)
    this.probeTimer.unref()
  }

  private async runProbe(): Promise<void> {
    if (!this.probe || this.stopped || this.restarting) return
    const r = await this.probe().catch(() => ProbeResult.Unreachable)
    // One line per change of what the probe sees, not one per probe.
    if (r !== this.lastProbe) this.opts.log.info({ pid: this.server.pid, from: this.lastProbe, to: r }, `JetStream probe of the embedded nats-server: ${r}`)
    this.lastProbe = r
    if (r === ProbeResult.Ok || r === ProbeResult.Unreachable) {
      this.disabledSeen = 0
      return
    }
    // Disabled: twice in a row. Stuck (the server answers, its JetStream API does not): for
    // four probes in a row, so that a merely slow server under load is left alone.
    const needed = r === ProbeResult.JetStreamDisabled ? (this.opts.disabledProbes ?? 2) : 4
    if (++this.disabledSeen < needed || this.restarting || this.stopped) return
    this.disabledSeen = 0
    this.opts.log.warn({ pid: this.server.pid, state: r }, 'JetStream is disabled or not answering on the embedded nats-server (seen after a full disk): restarting it')
    const old = this.server
    this.restarting = (async () => {
      // Its JetStream is wedged: such a server ignores SIGTERM (see terminate) and has nothing left
      // to flush, so SIGKILL now rather than after stop()'s 5 s grace; its store is recovered at start.
      signalIfSame(old.identity, 'SIGKILL', runsNatsServer(resolve(this.opts.storeDir)))
      await old.stop()
    })()
    // The exit handler sees `restarting` set and leaves the restart to us.
    await this.restarting
    this.restarting = this.restartLoop('jetstream disabled')
  }

  private watch(s: NatsServerHandle): void {
    void s.exited.then(({ code, signal }) => {
      if (this.stopped || this.server !== s || this.restarting) return
      this.opts.log.warn({ pid: s.pid, code, signal, port: s.port }, 'the embedded nats-server exited: starting it again on the same port with the same store')
      this.restarting = this.restartLoop(signal ?? `exit ${code}`)
    })
  }

  private async restartLoop(reason: string): Promise<void> {
    let delay = this.opts.minBackoffMs ?? 250
    const max = this.opts.maxBackoffMs ?? 5000
    let failures = 0
    let lastError = ''
    try {
      while (!this.stopped) {
        await new Promise((r) => setTimeout(r, delay))
        while (this.hold && !this.stopped) await Promise.race([this.hold, new Promise((r) => setTimeout(r, 250))])
        if (this.stopped) return
        try {
          const s = await startNatsServer({ ...this.opts, port: this.server.port, requirePort: true, onSpawn: this.spawned.add })
          if (this.stopped) {
            await s.stop()
            return
          }
          this.server = s
          this.restarts++
          this.watch(s)
          this.opts.log.warn({ pid: s.pid, port: s.port, reason, failedAttempts: failures }, 'the embedded nats-server is running again')
          // A listener that fails (endpoints.json on a full disk) does not make this a failed start.
          for (const cb of this.listeners) {
            try {
              cb(s)
            } catch (err) {
              this.opts.log.warn({ err: (err as Error).message }, 'a listener of the nats-server restart failed')
            }
          }
          return
        } catch (err) {
          failures++
          const msg = (err as Error).message
          // Once per distinct error, not once per attempt.
          if (msg !== lastError) this.opts.log.error({ err: msg, retryInMs: delay }, 'could not restart the embedded nats-server; retrying')
          lastError = msg
          delay = Math.min(max, delay * 2)
        }
      }
    } finally {
      this.restarting = undefined
    }
  }

  /**
   * Last resort before the process exits (synchronous: also from an 'exit' handler): stop
   * supervising, SIGTERM every server this supervisor started that is still there (the current
   * one, one a restart is starting or stopping right now) and SIGKILL it 2 s later. A server whose
   * JetStream is stuck (after a full disk) ignores SIGTERM: it is SIGKILLed at once.
   */
  terminate(): void {
    this.stopped = true
    if (this.probeTimer) clearInterval(this.probeTimer)
    const stuck = this.lastProbe === ProbeResult.JetStreamStuck || this.lastProbe === ProbeResult.JetStreamDisabled
    terminateAllSync(this.spawned.alive(this.server.identity), { kill: stuck })
  }

  /** Stops supervising, then the server, and any server a restart was starting or stopping. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.probeTimer) clearInterval(this.probeTimer)
    // Not waited for: a restart's server still starting (it may never answer on a full disk) is
    // stopped with the rest, which also ends the restart.
    const others = this.spawned.alive().filter((id) => id.pid !== this.server.pid)
    await Promise.all(others.map((id) => stopProcess(id, () => true)))
    await this.restarting?.catch(() => undefined)
    await this.server.stop()
    await Promise.all(this.spawned.alive().map((id) => stopProcess(id, () => true)))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

/** Every server process a supervisor spawned that has not exited yet, known from its spawn on. */
class Spawned {
  private readonly live = new Map<number, ProcessIdentity>()
  readonly add = (s: SpawnedServer): void => {
    this.live.set(s.identity.pid, s.identity)
    void s.exited.then(() => {
      if (this.live.get(s.identity.pid) === s.identity) this.live.delete(s.identity.pid)
    })
  }
  /** The live ones, plus `also` (which its handle knows; signalled only while it is the same process). */
  alive(also?: ProcessIdentity): ProcessIdentity[] {
    const out = [...this.live.values()]
    if (also && !this.live.has(also.pid)) out.push(also)
    return out
  }
}
