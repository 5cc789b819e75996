import { AckPolicy, DeliverPolicy, jetstreamManager, type ConsumerConfig } from '@nats-io/jetstream'
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core'

/** One stored message, as the replay sees it: where it sits in its stream and its bytes. */
export interface Item {
  readonly stream: string
  readonly seq: number
  /** Store time, ns since the epoch (a float: sub-µs precision is lost, order is what matters). */
  readonly timeNs: number
  readonly subject: string
  readonly data: Uint8Array
  readonly headers?: HeaderReader
  /** The header block's bytes as stored (for handing the message on without parsing it). */
  readonly headerBlock?: Uint8Array
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

/** The part of a header block a reader of stored facts asks for: `get` as nats.js's MsgHdrs (exact name, first value, trimmed; '' when absent). */
export interface HeaderReader {
  get(name: string): string
}

/**
 * A header block read lazily: the bytes are turned into text on the first `get`, and a name is
 * found by scanning for its line, without nats.js's per-message maps (MsgHdrsImpl.decode costs
 * ~3 µs a message; most stored facts are compared by bytes and never asked).
 */
export class LazyHeaders implements HeaderReader {
  private text: string | undefined
  constructor(private readonly block: Uint8Array) {}
  get(name: string): string {
    const t = (this.text ??= utf8(this.block, 0, this.block.length))
    const at = t.indexOf(`\r\n${name}:`)
    if (at < 0) return ''
    const from = at + name.length + 3
    const eol = t.indexOf('\r\n', from)
    return t.slice(from, eol < 0 ? t.length : eol).trim()
  }
}

/** One stored message as the push reader got it: bytes and positions, nothing parsed that is not asked for. */
class PushItem implements Item {
  private h: LazyHeaders | undefined
  constructor(
    readonly stream: string,
    readonly subject: string,
    readonly seq: number,
    readonly timeNs: number,
    private readonly block: Uint8Array | undefined,
    readonly data: Uint8Array,
  ) {}
  get headers(): HeaderReader | undefined {
    return this.block ? (this.h ??= new LazyHeaders(this.block)) : undefined
  }
  get headerBlock(): Uint8Array | undefined {
    return this.block
  }
}

function utf8(b: Uint8Array, from: number, to: number): string {
  return Buffer.isBuffer(b) ? b.toString('utf8', from, to) : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8', from, to)
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
  private full: Promise<void> | undefined

  constructor(
    public total: number,
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
    // one promise while full: every push past the high mark gets the same one (a producer that
    // does not wait, like a push consumer, must not leave earlier promises unresolved)
    if (this.buf.length - this.head >= HIGH) return (this.full ??= new Promise<void>((r) => (this.space = r)))
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
      this.full = undefined
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
    this.space = undefined
    this.full = undefined
    this.onClose()
  }
}

/** What a reader needs of a delivered message: nats.js's MsgImpl keeps its parsed parts in `_msg` and `_rdata`. */
interface RawMsg {
  readonly _msg?: { readonly subject: Uint8Array; readonly reply?: Uint8Array; readonly hdr: number }
  readonly _rdata?: Uint8Array
}

const HEARTBEAT_MS = 5000
const DOT = 0x2e

/**
 * Reads `$JS.ACK.….<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>[.<random>]` from
 * the reply bytes, right to left, into `out` ([stream seq, consumer seq, time ns, pending]);
 * false when it is not a JetStream delivery (flow control, heartbeat).
 */
export function ackInfo(r: Uint8Array, out: Float64Array): boolean {
  // "$JS.ACK."
  if (r.length < 20 || r[0] !== 0x24 || r[4] !== 0x41 || r[5] !== 0x43 || r[6] !== 0x4b) return false
  let dots = 0
  for (let i = 0; i < r.length; i++) if (r[i] === DOT) dots++
  // 8 dots: the old form (9 tokens); 11: domain, account hash and a random token at the end
  let skip = dots === 8 ? 0 : dots === 11 ? 1 : -1
  if (skip < 0) return false
  let end = r.length
  let k = 4
  for (let i = r.length - 1; i >= 0 && k > 0; i--) {
    if (r[i] !== DOT) continue
    if (skip > 0) {
      skip--
      end = i
      continue
    }
    let v = 0
    // the time (ns, past 2^53) is rounded as parseInt rounds it; the counters are exact
    if (k === 3) v = Number(utf8(r, i + 1, end))
    else for (let j = i + 1; j < end; j++) v = v * 10 + (r[j] - 48)
    out[--k] = v
    end = i
  }
  return k === 0
}

/**
 * An ordered consumer (ephemeral push consumer, flow-controlled, with idle heartbeats, never
 * acked: what nats.go's OrderedConsumer does) over one filter subject of one stream, read up to
 * the stream's last message at the time it was opened: a snapshot, so a running pipeline does
 * not keep the replay going. Messages reach a callback subscription and are kept as bytes (no
 * JsMsg, no parsed headers, delivery info read from the reply bytes); a gap in the consumer
 * sequence or a stall re-creates the consumer after the last stream sequence read. Back-pressure:
 * a flow-control request is answered only once the buffer is drained below its low mark. Nothing
 * is left on the server.
 */
export async function openStreamReader(nc: NatsConnection, stream: string, filter: string, start: { time?: number } = {}): Promise<Reader> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info(stream)
  const lastSeq = info.state.last_seq
  if (info.state.messages === 0) return EMPTY_READER
  const base: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.None,
    flow_control: true,
    idle_heartbeat: nanos(HEARTBEAT_MS),
    filter_subject: filter,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(5 * 60_000),
  }
  const fromTime = start.time !== undefined && Number.isFinite(start.time) && start.time > 0 ? new Date(start.time).toISOString() : undefined
  let sub: Subscription | undefined
  let consumer: string | undefined
  let readSeq = 0
  let nextDseq = 1
  let lastHeard = Date.now()
  let blocked: Promise<void> | undefined
  let ended = false
  let resetting = false
  const delivery = new Float64Array(4)
  const out: Buffered<Item> = new Buffered<Item>(0, () => finish())

  const finish = () => {
    if (ended) return
    ended = true
    out.end()
    stop()
  }
  const stop = () => {
    clearInterval(watchdog)
    sub?.unsubscribe()
    sub = undefined
    const name = consumer
    consumer = undefined
    if (name) void jsm.consumers.delete(stream, name).catch(() => undefined)
  }
  const answer = (subject: string) => {
    if (!blocked) nc.publish(subject)
    else void blocked.then(() => nc.publish(subject))
  }
  const onStatus = (m: Msg, raw: RawMsg) => {
    const reply = raw._msg?.reply
    if (reply && reply.length > 0) return answer(utf8(reply, 0, reply.length)) // flow control request
    const h = m.headers
    if (!h) return
    const stalled = h.get('Nats-Consumer-Stalled')
    if (stalled) answer(stalled)
    const last = Number(h.get('Nats-Last-Consumer') || 0)
    if (last >= nextDseq) void reset() // the heartbeat says we missed deliveries
  }
  const onMsg = (err: Error | null, m: Msg) => {
    if (err || ended) return
    lastHeard = Date.now()
    const raw = m as unknown as RawMsg
    const ma = raw._msg
    const rdata = raw._rdata
    if (!ma || !rdata || !ma.reply) return onStatus(m, raw)
    if (!ackInfo(ma.reply, delivery)) return onStatus(m, raw)
    const [seq, dseq, timeNs, pending] = delivery
    if (dseq !== nextDseq) {
      void reset()
      return
    }
    nextDseq++
    if (seq > lastSeq) return finish()
    readSeq = seq
    const hdr = ma.hdr
    const item = new PushItem(stream, utf8(ma.subject, 0, ma.subject.length), seq, timeNs, hdr > 0 ? rdata.subarray(0, hdr) : undefined, hdr > 0 ? rdata.subarray(hdr) : rdata)
    const wait = out.push(item)
    if (wait) blocked = wait.then(() => void (blocked = undefined))
    if (pending === 0 || seq >= lastSeq) finish()
  }
  const create = async (): Promise<number> => {
    const inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix)
    sub = nc.subscribe(inbox, { callback: onMsg })
    const cfg: Partial<ConsumerConfig> =
      readSeq > 0
        ? { ...base, deliver_subject: inbox, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: readSeq + 1 }
        : fromTime
          ? { ...base, deliver_subject: inbox, deliver_policy: DeliverPolicy.StartTime, opt_start_time: fromTime }
          : { ...base, deliver_subject: inbox, deliver_policy: DeliverPolicy.All }
    nextDseq = 1
    const ci = await jsm.consumers.add(stream, cfg)
    consumer = ci.name
    return ci.num_pending
  }
  /** Starts over after the last stream sequence read (a gap, a stall, a server restart). */
  const reset = async () => {
    if (resetting || ended) return
    resetting = true
    try {
      const old = consumer
      sub?.unsubscribe()
      consumer = undefined
      if (old) await jsm.consumers.delete(stream, old).catch(() => undefined)
      if (ended) return
      lastHeard = Date.now()
      await create()
    } catch {
      finish() // the stream or the connection went away: the reader ends
    } finally {
      resetting = false
    }
  }
  const watchdog = setInterval(() => {
    if (!ended && !resetting && Date.now() - lastHeard > 3 * HEARTBEAT_MS) void reset()
  }, HEARTBEAT_MS)
  watchdog.unref?.()
  let total: number
  try {
    total = Math.min(await create(), lastSeq)
  } catch (err) {
    stop()
    throw err
  }
  if (total === 0) {
    finish()
    return EMPTY_READER
  }
  out.total = total
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
