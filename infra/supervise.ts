import type { NatsConnection } from '@nats-io/nats-core'
import type { Logger } from './log.js'
import { isConsumerNotFound, StreamAdmin } from '../streams/index.js'

/** One running instance of a supervised part (a stage runner, a projector). */
export interface Worker {
  stop(): Promise<void>
  /** Stops at once, without a final checkpoint (when `stop` does not finish in time). */
  abort?(): void
  /** Set once the worker has stopped on a failure of its own. */
  failed(): Error | undefined
  /** A counter that moves whenever the worker takes in input (for stall detection). */
  progress(): number
}

export interface Durable {
  readonly stream: string
  readonly durable: string
}

export interface SupervisorOptions {
  readonly name: string
  readonly nc: NatsConnection
  readonly log: Logger
  /** Makes and starts a fresh worker: from the last checkpoint, re-creating its consumers. */
  start(): Promise<Worker>
  /** The durable consumers the worker reads: a deleted one means a restart. */
  readonly durables: readonly Durable[]
  /** Failure check period. Default 1 s. */
  readonly checkEveryMs?: number
  /** Consumer check period. Default 5 s. */
  readonly consumerCheckEveryMs?: number
  /** No progress for this long while input is pending means a restart. Default 20 s. */
  readonly stallAfterMs?: number
  /**
   * The same verdict, sooner, for a stall that began once the connection came back from an outage
   * (a restarted nats-server): what was in flight then (a pull, a publish, a checkpoint write) died
   * with the old connection, and a worker still waiting on it would otherwise sit out
   * `stallAfterMs`. Default 6 s.
   */
  readonly stallAfterReconnectMs?: number
  readonly minBackoffMs?: number
  /** Default 10 s: with the stall checks, a worker is back within ~30 s of its cause clearing. */
  readonly maxBackoffMs?: number
  /** Bound on a worker's graceful stop before it is aborted. Default 10 s. */
  readonly stopTimeoutMs?: number
}

export interface Supervised {
  readonly name: string
  current(): Worker
  /** Restarts of the worker since the first start. */
  readonly restarts: number
  stop(): Promise<void>
}

/**
 * Keeps a worker running, forever: the watchdog never gives up.
 * - A worker that failed (a derived fact that could not be stored, an insert that failed, a
 *   consumer that ended) is stopped and a fresh one started from the last checkpoint.
 * - A durable consumer that disappeared (deleted by another credential, a lost store) is
 *   re-created by that restart (the worker re-positions its durables when it starts).
 * - A worker that makes no progress while its consumers have input waiting, for `stallAfterMs`,
 *   is restarted the same way; after NATS reconnected, for `stallAfterReconnectMs`.
 * A start that fails (NATS down, disk full) is retried with a growing delay (1 s … 10 s). Logs
 * come once per change of state — failing, recovered — not once per attempt.
 */
export async function supervise(opts: SupervisorOptions): Promise<Supervised> {
  const { name, log } = opts
  let worker = await opts.start()
  let stopped = false
  let restarting: Promise<void> | undefined
  let restarts = 0
  let stall: { progress: number; marks: string; since: number } | undefined
  let lastConsumerCheck = 0
  const checkEvery = opts.checkEveryMs ?? 1000
  const consumerEvery = opts.consumerCheckEveryMs ?? 5000
  const stallAfter = opts.stallAfterMs ?? 20_000
  const stallAfterReconnect = Math.min(stallAfter, opts.stallAfterReconnectMs ?? 6000)
  let reconnectedAt = -Infinity
  /** Counts reconnects: a check that saw one happen while it waited on NATS gives no verdict. */
  let reconnects = 0
  void (async () => {
    for await (const s of opts.nc.status()) {
      if (stopped) break
      if (s.type === 'reconnect') {
        reconnectedAt = Date.now()
        reconnects++
        stall = undefined // measured afresh from here, on the quicker bound
      }
    }
  })().catch(() => undefined)

  // Back-off survives a restart that "succeeds" only to fail again at once (JetStream refusing
  // writes on a full disk): it is reset once a worker has run without failing for `healthyMs`.
  const minDelay = opts.minBackoffMs ?? 1000
  const maxDelay = opts.maxBackoffMs ?? 10_000
  const healthyMs = 60_000
  let delay = minDelay
  let startedAt = Date.now()
  /** The reason of the current bad spell; undefined while healthy. Logged on change only. */
  let trouble: string | undefined
  let troubleRestarts = 0

  const restart = (reason: string) => {
    if (restarting || stopped) return
    const kind = reason.replace(/\d+/g, '#')
    if (kind !== trouble) log.warn({ service: name, reason }, 'restarting from the last checkpoint (further restarts for the same reason are not logged)')
    trouble = kind
    troubleRestarts++
    if (Date.now() - startedAt < healthyMs) delay = Math.min(maxDelay, delay * 2)
    else delay = minDelay
    restarting = (async () => {
      const old = worker
      const done = await withTimeout(old.stop(), opts.stopTimeoutMs ?? 10_000)
      if (!done) old.abort?.()
      let lastError = ''
      for (;;) {
        await sleep(delay)
        if (isStopped()) return
        try {
          worker = await opts.start()
          restarts++
          startedAt = Date.now()
          stall = undefined
          return
        } catch (err) {
          const msg = (err as Error).message
          if (msg !== lastError) log.error({ service: name, err: msg, retryInMs: delay }, 'restart failed; retrying with back-off')
          lastError = msg
          delay = Math.min(maxDelay, delay * 2)
        }
      }
    })().finally(() => {
      restarting = undefined
    })
  }
  const isStopped = () => stopped

  const check = async () => {
    if (stopped || restarting) return
    const failure = worker.failed()
    if (failure) return restart(`failed: ${failure.message}`)
    const now = Date.now()
    if (trouble !== undefined && now - startedAt >= healthyMs) {
      log.warn({ service: name, restarts: troubleRestarts }, 'running normally again')
      trouble = undefined
      troubleRestarts = 0
      delay = minDelay
    }
    // Right after a reconnect, the consumers are looked at every check, so that a stall is seen
    // (and ended) on its short bound rather than on the next 5 s consumer check.
    const afterReconnect = now - reconnectedAt < stallAfter
    if (now - lastConsumerCheck < (afterReconnect ? checkEvery : consumerEvery)) return
    lastConsumerCheck = now
    // A request sent while NATS is away waits in the client and may be answered once it is back:
    // such a check began (`now`) before the reconnect, and a stall dated from it would be judged on
    // the long bound (seen under load: a worker stalled after a reconnect was never restarted).
    const epoch = reconnects
    let admin
    try {
      admin = await StreamAdmin.open(opts.nc, { timeoutMs: 3000 })
    } catch {
      return // NATS is down: its own supervisor brings it back; the consumers resume after.
    }
    let waiting = false
    let marks = ''
    for (const d of opts.durables) {
      try {
        const info = await admin.consumer(d.stream, d.durable)
        if (info.num_pending > 0 || info.num_ack_pending > 0) waiting = true
        marks += `${info.delivered.stream_seq}/${info.ack_floor.stream_seq};`
      } catch (err) {
        if (isConsumerNotFound(err)) {
          if (!stopped && !restarting) restart(`consumer ${d.durable} on ${d.stream} was deleted: re-creating it`)
          return
        }
        return // unreachable or slow: not a verdict
      }
    }
    if (stopped || restarting || reconnects !== epoch) return
    const progress = worker.progress()
    if (!waiting || !stall || stall.progress !== progress || stall.marks !== marks) {
      stall = { progress, marks, since: now }
      return
    }
    // A stall that began within `stallAfter` of a reconnect is judged on the quicker bound.
    const bound = stall.since >= reconnectedAt && stall.since - reconnectedAt < stallAfter ? stallAfterReconnect : stallAfter
    if (now - stall.since >= bound)
      restart(`no progress for ${Math.round((now - stall.since) / 1000)} s while input is waiting${bound < stallAfter ? ' (since NATS reconnected)' : ''}`)
  }

  let checking = false
  const timer = setInterval(() => {
    if (checking) return
    checking = true
    void check()
      .catch((err) => log.debug({ service: name, err: (err as Error).message }, 'supervisor check failed'))
      .finally(() => {
        checking = false
      })
  }, checkEvery)
  timer.unref()

  return {
    name,
    current: () => worker,
    get restarts() {
      return restarts
    },
    async stop() {
      stopped = true
      clearInterval(timer)
      await restarting
      await worker.stop()
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** True when `p` settled within `ms`. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout | undefined
  const done = await Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms))),
  ])
  clearTimeout(t)
  return done
}
