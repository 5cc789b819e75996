import type { JetStreamManager } from '@nats-io/jetstream'
import type { ConsumerInfo } from './admin.js'

export interface ConsumerLag {
  /** Messages matching the filter not delivered yet. */
  readonly pending: number
  /** Delivered, not acknowledged yet. */
  readonly ackPending: number
  /** Age of the oldest message not acknowledged yet, ms (0 when caught up). */
  readonly behindMs: number
}

/**
 * How far behind a consumer is: counts from its info, and the age of the oldest message it has
 * not acknowledged (the first message on its filter after its ack floor, read from the stream).
 */
export async function consumerLag(jsm: JetStreamManager, info: ConsumerInfo, now = Date.now()): Promise<ConsumerLag> {
  const pending = info.num_pending
  const ackPending = info.num_ack_pending
  if (pending + ackPending === 0) return { pending, ackPending, behindMs: 0 }
  const seq = info.ack_floor.stream_seq + 1
  const filter = info.config.filter_subject
  // STREAM.MSG.GET with next_by_subj: the first message on the filter at or after `seq`.
  const query = (filter ? { seq, next_by_subj: filter } : { seq }) as { seq: number }
  const m = await jsm.streams.getMessage(info.stream_name, query).catch(() => null)
  const behindMs = m ? Math.max(0, now - m.time.getTime()) : 0
  return { pending, ackPending, behindMs }
}
