import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'

/** One stored message, as the replay sees it: where it sits in its stream and its bytes. */
export interface Item {
  readonly stream: string
  readonly seq: number
  /** Store time, ns since the epoch (a float: sub-µs precision is lost, order is what matters). */
  readonly timeNs: number
  readonly subject: string
  readonly data: Uint8Array
  readonly headers?: MsgHdrs
}

/** A pull-style reader: `next()` resolves the next message or undefined at the end. */
export interface Reader {
  /** Messages this reader expects to deliver (for progress). */
  readonly total: number
  next(): Promise<Item | undefined>
  close(): void
}

export const EMPTY_READER: Reader = { total: 0, next: async () => undefined, close: () => undefined }

/**
 * An ordered (ephemeral, flow-controlled, never acked) consumer over one filter subject of one
 * stream, read up to the stream's last message at the time it was opened: a snapshot, so a
 * running pipeline does not keep the replay going. Nothing is left on the server.
 */
export async function openStreamReader(nc: NatsConnection, stream: string, filter: string, start: { time?: number } = {}): Promise<Reader> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const lastSeq = info.state.last_seq
  if (info.state.messages === 0) return EMPTY_READER
  const js = jetstream(nc)
  const opts: Record<string, unknown> = { filter_subjects: filter }
  if (start.time !== undefined && Number.isFinite(start.time) && start.time > 0) Object.assign(opts, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.time).toISOString() })
  else opts.deliver_policy = DeliverPolicy.All
  const c = await js.consumers.get(stream, opts)
  const ci = await c.info()
  const total = Math.min(ci.num_pending, lastSeq)
  if (total === 0) {
    await c.delete().catch(() => undefined)
    return EMPTY_READER
  }
  let messages: ConsumerMessages | undefined = await c.consume({ max_messages: 4096 })
  const it = messages[Symbol.asyncIterator]()
  let done = false
  const close = () => {
    done = true
    if (!messages) return
    messages.stop()
    messages = undefined
    void c.delete().catch(() => undefined)
  }
  return {
    total,
    async next(): Promise<Item | undefined> {
      if (done) return undefined
      const r = await it.next()
      if (r.done) {
        close()
        return undefined
      }
      const m = r.value as JsMsg
      const info = m.info
      if (m.seq > lastSeq) {
        close()
        return undefined
      }
      if (info.pending === 0 || m.seq >= lastSeq) close()
      return { stream, seq: m.seq, timeNs: info.timestampNanos, subject: m.subject, data: m.data, headers: m.headers }
    },
    close,
  }
}

/**
 * Merges readers into one sequence, smallest `key` first (ties: the earlier reader). Items
 * with the same stream and sequence (a message two overlapping filters both deliver) come once.
 */
export function mergeReaders(readers: readonly Reader[], key: (i: Item) => number): Reader {
  if (readers.length === 1) return readers[0]
  const heads: Array<Item | undefined> = new Array(readers.length).fill(undefined)
  const live: boolean[] = readers.map(() => true)
  let primed = false
  let last: Item | undefined
  const total = readers.reduce((n, r) => n + r.total, 0)
  const pull = async (i: number) => {
    heads[i] = live[i] ? await readers[i].next() : undefined
    if (!heads[i]) live[i] = false
  }
  return {
    total,
    async next(): Promise<Item | undefined> {
      if (!primed) {
        primed = true
        await Promise.all(readers.map((_, i) => pull(i)))
      }
      for (;;) {
        let best = -1
        let bestKey = 0
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i]
          if (!h) continue
          const k = key(h)
          if (best < 0 || k < bestKey) {
            best = i
            bestKey = k
          }
        }
        if (best < 0) return undefined
        const item = heads[best]!
        await pull(best)
        if (last && last.seq === item.seq && last.stream === item.stream) continue
        last = item
        return item
      }
    },
    close() {
      for (const r of readers) r.close()
    },
  }
}

/** Stream order within one stream; store time across streams. */
export const bySeq = (i: Item): number => i.seq
export const byTime = (i: Item): number => i.timeNs
