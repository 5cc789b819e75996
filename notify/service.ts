import { mergeMap, merge, type Subscription } from 'rxjs'
import type { ServiceFactory } from '../infra/index.js'
import { consumeFacts, KvWatchInclude, metricsRegistry, StreamName, streamName, type Envelope, type KV } from '../streams/index.js'
import { Counter } from 'prom-client'
import { RejectReason } from '../schemas/index.js'
import { deliver } from './deliver.js'
import { compileNotifier, matches, notable, type CompiledNotifier } from './filter.js'
import { renderBody } from './format.js'
import { listNotifiers, openNotifyBucket } from './store.js'

const STAGE = 'notify'

const sentCounter = (() => {
  metricsRegistry.removeSingleMetric('ben_notify_total')
  return new Counter({
    name: 'ben_notify_total',
    help: 'Notifications by outcome (delivered, dead_letter) and kind',
    labelNames: ['outcome', 'kind'] as const,
    registers: [metricsRegistry],
  })
})()

export interface NotifyServiceOptions {
  /** Notifications in flight at once. Default 16. */
  readonly concurrency?: number
}

/**
 * Webhook notifications as a `ben up` service: anomalies, incident transitions and decisions
 * that propose a command, from DERIVED (durables `notify-anomaly`, `notify-incident`,
 * `notify-proposal`, starting at what is new when first created), to every notifier in KV
 * `ben-notify` whose filter matches. Each is retried with backoff; one that still fails goes to
 * `ben.dlq.notify` with reason `undeliverable` (notifier, attempts and last error in the
 * message, the fact's bytes kept) and is counted. The fact is acked once every notifier has
 * either taken it or dead-lettered it. Notifier changes in KV apply without a restart.
 */
export function notifyService(opts: NotifyServiceOptions = {}): ServiceFactory {
  return async (ctx) => {
    const kv: KV = await openNotifyBucket(ctx.nc, ctx.topo)
    let notifiers: CompiledNotifier[] = []
    const reload = async () => {
      const { notifiers: list, problems } = await listNotifiers(kv)
      notifiers = list.map((n) => compileNotifier(n.config))
      for (const p of problems) ctx.log.warn({ notifier: p.key, problem: p.message }, 'notifier config ignored')
    }
    await reload()
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly })
    void (async () => {
      for await (const _ of watch) await reload().catch((err: Error) => ctx.log.warn({ err: err.message }, 'cannot reload notifiers'))
    })()
    const abort = new AbortController()
    const dlq = ctx.dlq(STAGE)
    const stream = streamName(ctx.topo, StreamName.Derived)
    const p = ctx.subjects.prefix
    const inputs = [
      { durable: 'notify-anomaly', filterSubject: `${p}.anomaly.>` },
      { durable: 'notify-incident', filterSubject: `${p}.incident.>` },
      { durable: 'notify-proposal', filterSubject: `${p}.decision.propose.>` },
    ]
    const handle = async (env: Envelope) => {
      const x = notable(env.fact)
      if (x) {
        const targets = notifiers.filter((n) => matches(n, x))
        await Promise.all(
          targets.map(async (n) => {
            const body = renderBody(x, n.config)
            const keepAlive = setInterval(() => env.working(), 10_000)
            const r = await deliver(n.config, body, `${env.fact.id}:${n.config.name}`, { signal: abort.signal }).finally(() => clearInterval(keepAlive))
            if (r.ok) {
              sentCounter.inc({ outcome: 'delivered', kind: x.kind })
              return
            }
            if (abort.signal.aborted) throw new Error('stopping')
            sentCounter.inc({ outcome: 'dead_letter', kind: x.kind })
            ctx.log.warn({ notifier: n.config.name, fact: env.fact.id, error: r.error }, 'notification undeliverable: sent to the DLQ')
            await dlq.send(
              { subject: env.subject, data: Buffer.from(JSON.stringify({ notifier: n.config.name, body })), stream, seq: env.seq },
              { reason: RejectReason.Undeliverable, message: `notifier ${n.config.name}: ${r.error}` },
            )
          }),
        )
      }
      env.ack()
    }
    const sub: Subscription = merge(
      ...inputs.map((i) =>
        consumeFacts(ctx.nc, ctx.codec, ctx.subjects, {
          stream,
          durable: i.durable,
          filterSubject: i.filterSubject,
          deliver: 'new',
          ackWaitMs: 60_000,
          maxAckPending: 1000,
          stage: STAGE,
          dlq,
          log: ctx.log,
        }),
      ),
    )
      .pipe(
        mergeMap(
          (env) =>
            handle(env).catch((err: Error) => {
              if (!abort.signal.aborted) ctx.log.warn({ err: err.message }, 'notification failed; redelivered later')
              env.nak(5000)
            }),
          opts.concurrency ?? 16,
        ),
      )
      .subscribe({ error: (err: Error) => ctx.log.error({ err: err.message }, 'notify consumer stopped') })
    return {
      name: 'notify',
      stop: async () => {
        abort.abort()
        sub.unsubscribe()
        watch.stop()
      },
    }
  }
}
