import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream'
import { nanos } from '@nats-io/nats-core'

/** Where a probe starts: a stream sequence, a time, or the first message kept. */
export type ProbeStart = { readonly seq: number } | { readonly time: Date } | { readonly all: true }

/**
 * How many messages of `stream` matching `filter` lie at or after `start`: asked of the server
 * with a short-lived ephemeral consumer (its `num_pending`), deleted straight away.
 */
export async function pendingFrom(jsm: JetStreamManager, stream: string, filter: string | undefined, start: ProbeStart): Promise<number> {
  const cfg: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.None,
    inactive_threshold: nanos(10_000),
    mem_storage: true,
    ...(filter ? { filter_subject: filter } : {}),
    ...('seq' in start
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start.seq) }
      : 'time' in start
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() }
        : { deliver_policy: DeliverPolicy.All }),
  }
  const ci = await jsm.consumers.add(stream, cfg)
  void jsm.consumers.delete(stream, ci.name).catch(() => undefined)
  return ci.num_pending
}

/**
 * The stream sequence from which exactly the last `n` messages matching `filter` follow (or the
 * first sequence when fewer match): a binary search over sequences with `pendingFrom`, about
 * log2(lastSeq) probes.
 */
export async function startOfLast(jsm: JetStreamManager, stream: string, filter: string | undefined, firstSeq: number, lastSeq: number, n: number): Promise<number> {
  let lo = Math.max(1, firstSeq)
  let hi = Math.max(lo, lastSeq)
  if ((await pendingFrom(jsm, stream, filter, { seq: lo })) <= n) return lo
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if ((await pendingFrom(jsm, stream, filter, { seq: mid })) >= n) lo = mid
    else hi = mid - 1
  }
  return lo
}
