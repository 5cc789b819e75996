import { Match, type MsgHdrs } from '@nats-io/nats-core'
import type { JsMsg } from '@nats-io/jetstream'

/**
 * What a consumer reads of every message, read straight off the wire bytes instead of through
 * nats.js's decoders: on the hot path those were the biggest source of garbage (per message and
 * per consumer: a MsgHdrsImpl with a Map, a canonical key built character by character and a
 * RegExp per header line; the ack subject split into an array and spliced). Same results as
 * nats.js; anything else is left to nats.js.
 */

/** The parts of nats.js 3.4's received message these readers use (not public API: checked at each use, nats.js decodes otherwise). */
interface CoreMsgInternals {
  readonly _rdata?: Uint8Array
  readonly _msg?: { readonly hdr?: number }
  readonly _headers?: MsgHdrs
}

/**
 * The headers of a received message. `get`, `has` and `last` with exact names (what Ben asks:
 * `Ben-Schema-Fp`, `Nats-Msg-Id`) scan the header text; every other use decodes nats.js's own
 * headers once and answers from them. `encode()` gives the bytes as received (nats.js calls it
 * when the headers are published again, e.g. into the DLQ), or the re-encoded ones once changed.
 */
class WireHeaders implements MsgHdrs {
  private text: string | undefined
  private full: (MsgHdrs & { encode(): Uint8Array }) | undefined

  constructor(
    /** The message's bytes: the header block is its first `hdr` bytes. */
    private readonly rdata: Uint8Array,
    private readonly hdr: number,
    private readonly decodeFull: () => MsgHdrs,
  ) {}

  private real(): MsgHdrs & { encode(): Uint8Array } {
    return (this.full ??= this.decodeFull() as MsgHdrs & { encode(): Uint8Array })
  }

  /** The value of the first line named exactly `k` (trimmed, as nats.js), or undefined. */
  private find(k: string, last: boolean): string | undefined {
    const s = (this.text ??= Buffer.from(this.rdata.buffer, this.rdata.byteOffset, this.hdr).toString('utf8'))
    let found: string | undefined
    // line 0 is the status line (`NATS/1.0`); then `Name: value` lines, CRLF-separated
    let at = s.indexOf('\r\n')
    while (at >= 0) {
      const start = at + 2
      const end = s.indexOf('\r\n', start)
      const stop = end < 0 ? s.length : end
      if (stop > start && s.startsWith(k, start) && s.charCodeAt(start + k.length) === 0x3a && start + k.length < stop) {
        found = s.slice(start + k.length + 1, stop).trim()
        if (!last) return found
      }
      at = end
    }
    return found
  }

  get(k: string, match: Match = Match.Exact): string {
    if (this.full || match !== Match.Exact) return this.real().get(k, match)
    return this.find(k, false) ?? ''
  }
  last(k: string, match: Match = Match.Exact): string {
    if (this.full || match !== Match.Exact) return this.real().last(k, match)
    return this.find(k, true) ?? ''
  }
  has(k: string, match: Match = Match.Exact): boolean {
    if (this.full || match !== Match.Exact) return this.real().has(k, match)
    return this.find(k, false) !== undefined
  }
  set(k: string, v: string, match?: Match): void {
    this.real().set(k, v, match)
  }
  append(k: string, v: string, match?: Match): void {
    this.real().append(k, v, match)
  }
  delete(k: string, match?: Match): void {
    this.real().delete(k, match)
  }
  keys(): string[] {
    return this.real().keys()
  }
  values(k: string, match?: Match): string[] {
    return this.real().values(k, match)
  }
  get hasError(): boolean {
    return this.real().hasError
  }
  get status(): string {
    return this.real().status
  }
  get code(): number {
    return this.real().code
  }
  get description(): string {
    return this.real().description
  }
  [Symbol.iterator](): Iterator<[string, string[]]> {
    return this.real()[Symbol.iterator]()
  }
  encode(): Uint8Array {
    return this.full ? this.full.encode() : this.rdata.subarray(0, this.hdr)
  }
}

/** The headers of `m` read off its bytes (see WireHeaders); nats.js's own when its internals are not as expected. */
export function wireHeaders(m: JsMsg): MsgHdrs | undefined {
  const core = (m as unknown as { msg?: CoreMsgInternals }).msg
  const hdr = core?._msg?.hdr
  if (!core || core._headers || typeof hdr !== 'number' || !(core._rdata instanceof Uint8Array)) return m.headers
  if (hdr < 0) return undefined
  return new WireHeaders(core._rdata, hdr, () => m.headers!)
}

/** Dot positions of the ack subject being read (one thread: reused, no array per message). */
const DOTS = new Int32Array(13)
/** The same, mapped onto the new form's token places (reused likewise). */
const AT = new Int32Array(11)

/** The decimal number in s[from, to) (what parseInt gives for the digits nats-server writes). */
function num(s: string, from: number, to: number): number {
  // beyond 2^53 (timestamps in ns) only parseInt rounds the way nats.js does
  if (to - from > 15) return parseInt(s.slice(from, to), 10)
  let n = 0
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return parseInt(s.slice(from, to), 10)
    n = n * 10 + c
  }
  return to > from ? n : NaN
}

/**
 * The delivery info nats.js parses from the ack subject (`JsMsg.info`), same fields: the numbers
 * read at once, the names when asked.
 */
class DeliveryInfo {
  readonly deliveryCount: number
  readonly redelivered: boolean
  readonly streamSequence: number
  readonly deliverySequence: number
  readonly timestampNanos: number
  readonly pending: number
  /** Dots before the domain, hash, stream, consumer and count tokens (d1, d2 -1 in the old form). */
  private readonly d1: number
  private readonly d2: number
  private readonly d3: number
  private readonly d4: number
  private readonly d5: number
  constructor(
    private readonly s: string,
    d: Int32Array,
  ) {
    this.d1 = d[1]
    this.d2 = d[2]
    this.d3 = d[3]
    this.d4 = d[4]
    this.d5 = d[5]
    this.deliveryCount = num(s, d[5] + 1, d[6])
    this.redelivered = this.deliveryCount > 1
    this.streamSequence = num(s, d[6] + 1, d[7])
    this.deliverySequence = num(s, d[7] + 1, d[8])
    this.timestampNanos = num(s, d[8] + 1, d[9])
    this.pending = num(s, d[9] + 1, d[10])
  }
  get domain(): string {
    const d = this.d1 < 0 ? '' : this.s.slice(this.d1 + 1, this.d2)
    return d === '_' ? '' : d
  }
  get account_hash(): string {
    return this.d1 < 0 ? '' : this.s.slice(this.d2 + 1, this.d3)
  }
  get stream(): string {
    return this.s.slice(this.d3 + 1, this.d4)
  }
  get consumer(): string {
    return this.s.slice(this.d4 + 1, this.d5)
  }
}

/**
 * Fills `m.info` (nats.js caches it in `di`) from the ack subject by scanning it once, instead of
 * nats.js's split and splice: `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>`
 * or `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>.<random>`.
 * Leaves anything else to nats.js (which throws for a reply that is not an ack subject).
 */
export function primeInfo(m: JsMsg): void {
  const holder = m as unknown as { di?: unknown; reply?: string }
  if (holder.di !== undefined) return
  const s = holder.reply
  if (typeof s !== 'string' || !s.startsWith('$JS.ACK.')) return
  let n = 0
  for (let i = 3; i >= 0 && n < 13; i = s.indexOf('.', i + 1)) DOTS[n++] = i
  // n dots: n + 1 tokens. Positions in the new form: dots 0..10 (after $JS, ACK, domain, hash,
  // stream, consumer, count, sseq, dseq, ts, pending); the old form lacks domain and hash.
  const at = AT
  if (n === 8) {
    // old form, 9 tokens: no domain, no hash; the end of the subject closes `pending`
    at[0] = DOTS[0]
    at[1] = -1
    at[2] = -1
    for (let k = 1; k < 8; k++) at[k + 2] = DOTS[k]
    at[10] = s.length
  } else if (n >= 10) {
    for (let k = 0; k < 10; k++) at[k] = DOTS[k]
    at[10] = n > 10 ? DOTS[10] : s.length
  } else return
  holder.di = new DeliveryInfo(s, at)
}
