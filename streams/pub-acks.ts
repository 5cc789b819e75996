import type { NatsConnection, Subscription } from '@nats-io/nats-core'

/**
 * The parts of nats.js's connection (nats-core 3.x) the PubAck reader uses: the parser that the
 * connection's read loop hands each buffer read from the socket to (replaced at every dial), and
 * what the protocol handler counts for each message it dispatches.
 */
interface Parser {
  /** 0 (OP_START): between two protocol messages, nothing of a message held. */
  state: number
  parse(buf: Uint8Array): void
}
interface Protocol {
  parser: Parser
  inMsgs: number
  inBytes: number
  subscriptions: { get(sid: number): { received: number; max?: number } | undefined }
}
const OP_START = 0

/** A publisher's PubAcks: its inbox subscription and what to do with a plain one. */
export interface PubAckRoute {
  /** `<inbox>.` as bytes: a PubAck's subject is this and the publish's token. */
  readonly prefix: Uint8Array
  /** The subscription on `<inbox>.*`. */
  readonly sub: Subscription
  /** The PubAck of a message stored (`{"stream":…, "seq":…}`, not a duplicate, not an error) for the publish of `token`. */
  stored(token: number, seq: number): void
}

/** Stops reading a route's PubAcks (they go through the subscription's callback again). */
export interface PubAckReading {
  stop(): void
  /** PubAcks read so far (tests: that the bytes were read here, not by nats.js). */
  readonly read: number
}

/**
 * Reads publishers' plain PubAcks straight off the connection's bytes, before nats.js's parser:
 * nats.js makes each one a message (four views of the buffer, an argument array, a message
 * object) and hands it to the subscription's callback, which reads the token back from the
 * subject and parses the JSON: about a microsecond and 700 bytes of garbage a PubAck, as much as
 * everything else the sidecar's drain does per record.
 *
 * Only what is certain is read here: while the parser is between messages, complete
 * `MSG <inbox>.<token> <sid>  <size>\r\n{"stream":"…", "seq":N}\r\n` frames of a route's
 * subscription, one after the other from the start of the buffer. From the first thing that is not
 * one (a duplicate or an error answer, a header message such as a 503, another subscription's
 * message, a frame cut by the end of the buffer, PING, INFO, -ERR) the rest of the buffer goes to
 * nats.js's parser, which handles it as before, in order. The counts nats.js keeps (the connection's
 * messages and bytes in, the subscription's received) move as if it had read them.
 *
 * Without the parts of nats.js this needs (another client version), or with BEN_PUBACK_READER=0
 * (to compare), every PubAck goes through nats.js as before.
 */
export function readPubAcks(nc: NatsConnection, route: PubAckRoute): PubAckReading | undefined {
  if (process.env.BEN_PUBACK_READER === '0') return undefined
  const protocol = (nc as unknown as { protocol?: Partial<Protocol> }).protocol
  if (!usable(protocol)) return undefined
  let reader = readers.get(protocol)
  if (!reader) {
    reader = new Reader(protocol)
    readers.set(protocol, reader)
  }
  return reader.add(route)
}

function usable(p: Partial<Protocol> | undefined): p is Protocol {
  return (
    p !== undefined &&
    typeof p.parser?.parse === 'function' &&
    p.parser.state === OP_START &&
    typeof p.inMsgs === 'number' &&
    typeof p.inBytes === 'number' &&
    typeof p.subscriptions?.get === 'function'
  )
}

const readers = new WeakMap<object, Reader>()

interface Routed {
  readonly route: PubAckRoute
  readonly sid: number
  read: number
}

class Reader {
  private routes: Routed[] = []
  private current: Parser
  private readonly original = new WeakMap<Parser, (buf: Uint8Array) => void>()

  constructor(private readonly protocol: Protocol) {
    this.current = protocol.parser
    this.wrap(this.current)
    // nats.js makes a new parser at every dial (a reconnect): it is wrapped as it is set
    Object.defineProperty(protocol, 'parser', {
      configurable: true,
      enumerable: true,
      get: () => this.current,
      set: (p: Parser) => {
        this.current = p
        this.wrap(p)
      },
    })
  }

  add(route: PubAckRoute): PubAckReading {
    const r: Routed = { route, sid: (route.sub as unknown as { sid: number }).sid, read: 0 }
    this.routes = [...this.routes, r]
    return {
      stop: () => void (this.routes = this.routes.filter((x) => x !== r)),
      get read() {
        return r.read
      },
    }
  }

  private wrap(p: Parser): void {
    if (typeof p?.parse !== 'function' || this.original.has(p)) return
    const parse = p.parse.bind(p)
    this.original.set(p, parse)
    /** The start of a PubAck frame cut by the end of the last buffer (`held` bytes), completed from the next one. */
    const part = Buffer.allocUnsafe(HELD_MAX * 2)
    let held = 0
    p.parse = (buf: Uint8Array) => {
      let from = 0
      if (held > 0) {
        const take = Math.min(buf.length, part.length - held)
        part.set(buf.subarray(0, take), held)
        const next = this.routes.length > 0 ? this.readAck(part, 0, held + take) : 0
        if (next > held) from = next - held
        else if (take === buf.length && held + take < HELD_MAX && this.mayBeAck(part, 0, held + take)) {
          held += take // still cut: a read of a few bytes
          return
        } else {
          // not a plain PubAck after all (or still cut): nats.js reads it, and this buffer after it
          parse(Uint8Array.prototype.slice.call(part, 0, held))
          held = 0
          parse(buf)
          return
        }
        held = 0
      } else if (p.state !== OP_START || this.routes.length === 0) {
        parse(buf)
        return
      }
      from = this.readAcks(buf, from)
      if (from === buf.length) return
      // A frame cut by the end of the read, which may be a PubAck: held until the next read. nats.js
      // would hold it too (it is between messages, and nothing is dispatched before the frame is whole).
      if (buf.length - from < HELD_MAX && this.mayBeAck(buf, from, buf.length)) {
        part.set(buf.subarray(from), 0)
        held = buf.length - from
        return
      }
      parse(from === 0 ? buf : buf.subarray(from))
    }
  }

  /** Reads the plain PubAcks in `buf` from `at` on: where the first thing that is not one starts. */
  private readAcks(buf: Uint8Array, at: number): number {
    let next = 0
    while (at < buf.length && (next = this.readAck(buf, at, buf.length)) > 0) at = next
    return at
  }

  /** Whether `buf[at, end)` is the start of a route's PubAck frame, cut by `end` (`ackFrame` ran out of bytes). */
  private mayBeAck(buf: Uint8Array, at: number, end: number): boolean {
    for (const r of this.routes) {
      ackFrame(buf, at, end, r.route.prefix)
      if (ackFrameCut()) return true
    }
    return false
  }

  /** The plain PubAck of a route (`r`, or any) in `buf[at, end)`, read and handed over: where the next message starts; 0 when it is not one. */
  private readAck(buf: Uint8Array, at: number, end: number, r?: Routed): number {
    if (r === undefined) {
      for (const x of this.routes) {
        const next = this.readAck(buf, at, end, x)
        if (next > 0) return next
      }
      return 0
    }
    const f = ackFrame(buf, at, end, r.route.prefix)
    if (f === undefined || f.sid !== r.sid) return 0
    const sub = this.protocol.subscriptions.get(r.sid)
    // nats.js's own handling for a subscription gone, or one that stops after `max` messages
    if (sub === undefined || sub !== (r.route.sub as unknown) || sub.max !== undefined) return 0
    this.protocol.inMsgs++
    this.protocol.inBytes += f.size
    sub.received++
    r.read++
    r.route.stored(f.token, f.seq)
    return f.next
  }
}

/** Bytes of a cut frame held for the next read at most (a PubAck frame is about 80). */
const HELD_MAX = 256
const MSG_HEAD = Buffer.from('MSG ', 'latin1')

/** A PubAck frame read by `ackFrame` (one object, overwritten by each read). */
export interface AckFrame {
  token: number
  sid: number
  size: number
  seq: number
  /** Where the next message starts. */
  next: number
}
const frame: AckFrame = { token: 0, sid: 0, size: 0, seq: 0, next: 0 }

const SP = 0x20
const CR = 0x0d
const LF = 0x0a

/**
 * The frame at `at` (in `b` up to `end`) when it is a whole `MSG <prefix><token> <sid>  <size>\r\n<plain PubAck>\r\n`
 * (no reply subject: empty, or left out; no headers); undefined for anything else. The object is
 * reused.
 */
export function ackFrame(b: Uint8Array, at: number, end: number, prefix: Uint8Array): AckFrame | undefined {
  const n = end
  cut = false
  // `MSG ` and the prefix
  const head = 4 + prefix.length
  for (let j = 0; j < head; j++) {
    if (at + j >= n) return ((cut = true), undefined)
    if (b[at + j] !== (j < 4 ? MSG_HEAD[j] : prefix[j - 4])) return undefined
  }
  let i = at + head
  const token = digits(b, i, n, SP)
  if (token < 0) return undefined
  i = digitsEnd
  const sid = digits(b, i + 1, n, SP)
  if (sid < 0) return undefined
  i = digitsEnd
  // no reply subject: nats-server writes it empty (two spaces), another server may leave it out
  if (++i < n && b[i] === SP) i++
  const size = digits(b, i, n, CR)
  if (size < 0) return undefined
  i = digitsEnd + 1
  if (i >= n) return ((cut = true), undefined)
  if (b[i] !== LF) return undefined
  const data = i + 1
  const stop = data + size
  if (stop + 2 > n) return ((cut = true), undefined)
  if (b[stop] !== CR || b[stop + 1] !== LF) return undefined
  const seq = plainPubAckSeq(b, data, stop)
  if (seq < 0) return undefined
  frame.token = token
  frame.sid = sid
  frame.size = size
  frame.seq = seq
  frame.next = stop + 2
  return frame
}

/** Whether the last `ackFrame` that found no frame ran out of bytes before it could tell (a frame cut by the end of a read). */
export const ackFrameCut = (): boolean => cut
let cut = false

/** Where the digits read by `digits` ended (at the byte `stop`). */
let digitsEnd = 0

/** The decimal number at `at` (1 to 15 digits) ended by the byte `stop`; -1 otherwise. */
function digits(b: Uint8Array, at: number, end: number, stop: number): number {
  let v = 0
  let i = at
  for (; i < end && i - at < 16; i++) {
    const c = b[i]
    if (c === stop) break
    const d = c - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  if (i >= end) {
    cut = i - at < 16
    return -1
  }
  if (i === at || i - at > 15) return -1
  digitsEnd = i
  return v
}

const STREAM = Buffer.from('{"stream":"', 'latin1')
const DOMAIN = Buffer.from('"domain":"', 'latin1')
const SEQ = Buffer.from('"seq":', 'latin1')

/**
 * The seq of `b[from, to)` when it is the PubAck of a message stored, as nats-server writes it:
 * `{"stream":"<name>", "seq":<n>}`, or with `"domain":"<domain>", ` before the seq (a space after
 * each comma or none); -1 for anything else — a duplicate, an error, any other shape — which
 * `parsePubAck` reads.
 */
export function plainPubAckSeq(b: Uint8Array, from: number, to: number): number {
  let i = match(b, from, to, STREAM)
  if (i < 0) return -1
  i = quoted(b, i, to)
  if (i < 0) return -1
  i = comma(b, i, to)
  if (i < 0) return -1
  const d = match(b, i, to, DOMAIN)
  if (d >= 0) {
    i = comma(b, quoted(b, d, to), to)
    if (i < 0) return -1
  }
  i = match(b, i, to, SEQ)
  if (i < 0) return -1
  if (i < to && b[i] === SP) i++
  // the digits, then the closing brace as the last byte
  let seq = 0
  const start = i
  for (; i < to - 1; i++) {
    const c = b[i] - 48
    if (c < 0 || c > 9) return -1
    seq = seq * 10 + c
  }
  return i === start || i - start > 15 || b[to - 1] !== 0x7d ? -1 : seq
}

/** Past `pat` when `b` has it at `at`; -1 otherwise. */
function match(b: Uint8Array, at: number, to: number, pat: Uint8Array): number {
  if (at < 0 || at + pat.length > to) return -1
  for (let j = 0; j < pat.length; j++) if (b[at + j] !== pat[j]) return -1
  return at + pat.length
}

/** Past the closing quote of a string's characters at `at` (no escapes); -1 otherwise. */
function quoted(b: Uint8Array, at: number, to: number): number {
  if (at < 0) return -1
  for (let i = at; i < to; i++) {
    if (b[i] === 0x22) return i + 1
    if (b[i] === 0x5c) return -1
  }
  return -1
}

/** Past `,` or `, ` at `at`; -1 otherwise. */
function comma(b: Uint8Array, at: number, to: number): number {
  if (at < 0 || at >= to || b[at] !== 0x2c) return -1
  return at + 1 < to && b[at + 1] === SP ? at + 2 : at + 1
}
