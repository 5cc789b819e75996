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

/**
 * A buffered reader with a synchronous fast path: `peek()` gives the next item when it is
 * already here (null when the caller must `await ready()`, undefined at the end), `take()`
 * consumes it. The hot loop awaits only when a buffer runs dry.
 */
export interface Reader<T = Item> {
  /** Items this reader expects to deliver (for progress). */
  readonly total: number
  peek(): T | undefined | null
  take(): void
  ready(): Promise<void>
  close(): void
}

/** Awaits and takes the next item (tools and tests; the engine uses peek/take). */
export async function nextOf<T>(r: Reader<T>): Promise<T | undefined> {
  for (;;) {
    const v = r.peek()
    if (v === null) {
      await r.ready()
      continue
    }
    if (v !== undefined) r.take()
    return v
  }
}

export const EMPTY_READER: Reader<never> = { total: 0, peek: () => undefined, take: () => undefined, ready: async () => undefined, close: () => undefined }

/** An item whose headers are parsed only when asked for (most recorded facts are compared by bytes alone). */
class JsItem implements Item {
  readonly subject: string
  readonly data: Uint8Array
  constructor(
    readonly stream: string,
    private readonly m: JsMsg,
    readonly seq: number,
    readonly timeNs: number,
  ) {
    this.subject = m.subject
    this.data = m.data
  }
  get headers(): MsgHdrs | undefined {
    return this.m.headers
  }
}

const HIGH = 8192
const LOW = 2048

/**
 * A FIFO filled by an async producer, bounded: the producer waits when HIGH items are queued
 * and resumes when the consumer brought it under LOW (so a pulling source pulls no further).
 */
export class Buffered<T> implements Reader<T> {
  private buf: T[] = []
  private head = 0
  private ended = false
  private wake: (() => void) | undefined
  private space: (() => void) | undefined

  constructor(
    readonly total: number,
    private readonly onClose: () => void = () => undefined,
  ) {}

  /** Producer side: adds an item; resolves when there is room for more. */
  push(v: T): Promise<void> | undefined {
    this.buf.push(v)
    const w = this.wake
    if (w) {
      this.wake = undefined
      w()
    }
    if (this.buf.length - this.head >= HIGH) return new Promise<void>((r) => (this.space = r))
    return undefined
  }

  end(): void {
    this.ended = true
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  peek(): T | undefined | null {
    if (this.head < this.buf.length) return this.buf[this.head]
    return this.ended ? undefined : null
  }

  take(): void {
    this.head++
    if (this.head >= 4096 && this.head * 2 >= this.buf.length) {
      this.buf = this.buf.slice(this.head)
      this.head = 0
    }
    if (this.space && this.buf.length - this.head <= LOW) {
      const s = this.space
      this.space = undefined
      s()
    }
  }

  ready(): Promise<void> {
    if (this.head < this.buf.length || this.ended) return Promise.resolve()
    return new Promise((r) => (this.wake = r))
  }

  close(): void {
    this.ended = true
    this.buf = []
    this.head = 0
    this.space?.()
    this.onClose()
  }
}

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
  if (start.time !== undefined && Number.isFinite(start.time) && start.time > 0)
    Object.assign(opts, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(start.time).toISOString() })
  else opts.deliver_policy = DeliverPolicy.All
  const c = await js.consumers.get(stream, opts)
  const ci = await c.info()
  const total = Math.min(ci.num_pending, lastSeq)
  if (total === 0) {
    await c.delete().catch(() => undefined)
    return EMPTY_READER
  }
  let messages: ConsumerMessages | undefined = await c.consume({ max_messages: 4096 })
  const stop = () => {
    if (!messages) return
    messages.stop()
    messages = undefined
    void c.delete().catch(() => undefined)
  }
  const out = new Buffered<Item>(total, stop)
  void (async () => {
    try {
      for await (const m of messages!) {
        const info = m.info
        if (m.seq > lastSeq) break
        const wait = out.push(new JsItem(stream, m, info.streamSequence, info.timestampNanos))
        if (info.pending === 0 || m.seq >= lastSeq) break
        if (wait) await wait
      }
    } catch {
      // the consumer went away (closed, or the connection dropped): the reader ends
    } finally {
      out.end()
      stop()
    }
  })()
  return out
}

/**
 * Merges readers into one sequence, smallest `key` first (ties: the earlier reader). Items
 * with the same stream and sequence (a message two overlapping filters both deliver) come once.
 */
export function mergeReaders(readers: readonly Reader[], key: (i: Item) => number): Reader {
  if (readers.length === 1) return readers[0]
  let best = -1
  let last: Item | undefined
  let waitOn: Reader | undefined
  return {
    total: readers.reduce((n, r) => n + r.total, 0),
    peek(): Item | undefined | null {
      for (;;) {
        best = -1
        let bestKey = 0
        let item: Item | undefined
        for (let i = 0; i < readers.length; i++) {
          const h = readers[i].peek()
          if (h === null) {
            waitOn = readers[i]
            return null
          }
          if (h === undefined) continue
          const k = key(h)
          if (best < 0 || k < bestKey) {
            best = i
            bestKey = k
            item = h
          }
        }
        if (!item) return undefined
        if (last && last.seq === item.seq && last.stream === item.stream) {
          readers[best].take()
          continue
        }
        return item
      }
    },
    take() {
      if (best < 0) return
      last = readers[best].peek() ?? undefined
      readers[best].take()
      best = -1
    },
    ready() {
      return waitOn ? waitOn.ready() : Promise.resolve()
    },
    close() {
      for (const r of readers) r.close()
    },
  }
}

/** Stream order within one stream; store time across streams. */
export const bySeq = (i: Item): number => i.seq
export const byTime = (i: Item): number => i.timeNs
