import protobuf from 'protobufjs'
import type { OtlpMapping } from './mapping.js'
import { logFact, resourceContext, type Mapped } from './map.js'
import { OtlpTypes } from './proto.js'
import { anyToString, copyOfBase, nanosPartsToMs, type KeyValue } from './values.js'

/**
 * OTLP logs in protobuf → `event` facts in one pass over the bytes, the hot path of the OTLP
 * door: no message objects, no Long, no AnyValue objects for the string values logs are made
 * of. It answers exactly as `mapLogs(LogsRequest.decode(bytes))` does (logs-wire.test.ts
 * compares them on the SDK's requests and on random and damaged ones): the same protobufjs
 * Reader, the same field numbers read the same way whatever their wire type, the same nesting
 * limits and range errors, and the generated decoders for what is read once per resource or
 * scope and for any value that is not a plain string.
 */
export function mapLogsProto(bytes: Uint8Array, m: OtlpMapping, fixedSource: string | undefined, receivedAt: number): Mapped {
  const out: Mapped = { facts: [], origin: [], records: 0, dropped: [] }
  const r = protobuf.Reader.create(bytes)
  while (r.pos < r.len) {
    const t = r.uint32()
    if (t >>> 3 === 1) resourceLogs(r, m, fixedSource, receivedAt, out)
    else r.skipType(t & 7, 0)
  }
  return out
}

const { AnyValue, Resource, InstrumentationScope } = OtlpTypes

/** Enters a length-delimited message as the generated decoders do (reads stop at its end); returns what leave() restores. */
function enter(r: protobuf.Reader, depth: number): number {
  if (depth > protobuf.Reader.recursionLimit) throw Error('maximum nesting depth exceeded')
  const len = r.uint32()
  const end = r.pos + len
  if (end > r.len) throw RangeError('index out of range')
  const outer = r.len
  r.len = end
  return outer
}

function leave(r: protobuf.Reader, outer: number): void {
  if (r.pos !== r.len) throw RangeError('index out of range')
  r.len = outer
}

function resourceLogs(r: protobuf.Reader, m: OtlpMapping, fixedSource: string | undefined, receivedAt: number, out: Mapped): void {
  const outer = enter(r, 1)
  let resource: { attributes?: KeyValue[] | null } | null = null
  const scopes: Array<[start: number, end: number]> = []
  while (r.pos < r.len) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        resource = Resource.decode(r, r.uint32(), undefined, 2) as never
        break
      case 2: {
        // the resource may come after its scopes: note where they are, read them once it is known
        const start = r.pos
        const len = r.uint32()
        r.skip(len)
        scopes.push([start, r.pos])
        break
      }
      case 3:
        r.string()
        break
      default:
        r.skipType(t & 7, 1)
    }
  }
  const end = r.pos
  const { source, base } = resourceContext(resource, m, fixedSource)
  for (const [start] of scopes) {
    r.pos = start
    scopeLogs(r, source, base, m, receivedAt, out)
  }
  r.pos = end
  leave(r, outer)
}

function scopeLogs(r: protobuf.Reader, source: string, base: Readonly<Record<string, string>>, m: OtlpMapping, receivedAt: number, out: Mapped): void {
  const outer = enter(r, 2)
  let scope: string | undefined
  const records: number[] = []
  while (r.pos < r.len) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        scope = (InstrumentationScope.decode(r, r.uint32(), undefined, 3) as { name?: string }).name || undefined
        break
      case 2: {
        // as with the resource: the scope may follow its records
        records.push(r.pos)
        r.skip(r.uint32())
        break
      }
      case 3:
        r.string()
        break
      default:
        r.skipType(t & 7, 2)
    }
  }
  const end = r.pos
  for (const start of records) {
    r.pos = start
    logRecord(r, source, base, scope, m, receivedAt, out)
  }
  r.pos = end
  leave(r, outer)
}

function logRecord(r: protobuf.Reader, source: string, base: Readonly<Record<string, string>>, scope: string | undefined, m: OtlpMapping, receivedAt: number, out: Mapped): void {
  const outer = enter(r, 3)
  const attrs = copyOfBase(base)
  if (scope) attrs['otel.scope'] = scope
  let time = 0
  let observed = 0
  let severityNumber = 0
  let severityText = ''
  let body = ''
  let trace: Uint8Array | undefined
  let span: Uint8Array | undefined
  let eventName = ''
  while (r.pos < r.len) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        time = nanosPartsToMs(r.fixed32(), r.fixed32())
        break
      case 11:
        observed = nanosPartsToMs(r.fixed32(), r.fixed32())
        break
      case 2:
        severityNumber = r.int32()
        break
      case 3:
        severityText = shortString(r)
        break
      case 5:
        body = anyValue(r, 4)
        break
      case 6:
        keyValueInto(r, attrs)
        break
      case 7:
        r.uint32()
        break
      case 8:
        r.fixed32()
        break
      case 9:
        trace = r.bytes()
        break
      case 10:
        span = r.bytes()
        break
      case 12:
        eventName = r.string()
        break
      default:
        r.skipType(t & 7, 3)
    }
  }
  leave(r, outer)
  logFact(out, out.records++, source, attrs, { severityText, severityNumber, traceId: trace, spanId: span, eventName, ts: time || observed || receivedAt, message: body }, m)
}

/** A KeyValue of a record: `into[key] = value as a string` (a later key wins; no key, no entry). */
function keyValueInto(r: protobuf.Reader, into: Record<string, string>): void {
  const outer = enter(r, 4)
  let key = ''
  let value = ''
  while (r.pos < r.len) {
    const t = r.uint32()
    switch (t >>> 3) {
      case 1:
        key = keyString(r)
        break
      case 2:
        value = anyValue(r, 5)
        break
      default:
        r.skipType(t & 7, 4)
    }
  }
  leave(r, outer)
  if (key) into[key] = value
}

/**
 * Attribute keys seen lately, by their bytes: a record's keys are mostly the ones before it, and
 * the same string object each time is a property key V8 has already internalized (a fresh string
 * per record costs a string-table lookup on every store, and garbage).
 */
const KEYS_KEPT = 64
const keptBytes: Uint8Array[] = []
const keptStrings: string[] = []

/** `r.string()` for an attribute key: the same answer, the string of a key seen lately when its bytes are the same. */
function keyString(r: protobuf.Reader): string {
  const start = r.pos
  const len = r.uint32()
  const from = r.pos
  const buf = r.buf
  if (len <= 64 && from + len <= r.len) {
    next: for (let i = 0; i < keptBytes.length; i++) {
      const k = keptBytes[i]
      if (k.length !== len) continue
      for (let j = 0; j < len; j++) if (k[j] !== buf[from + j]) continue next
      r.pos = from + len
      return keptStrings[i]
    }
  }
  r.pos = start
  const s = r.string()
  if (len <= 64 && from + len <= r.len && keptBytes.length < KEYS_KEPT) {
    keptBytes.push(Uint8Array.prototype.slice.call(buf, from, from + len))
    keptStrings.push(s)
  }
  return s
}

/**
 * Short strings seen lately (attribute values, severity texts: '/login', '200', 'INFO'), by their
 * bytes, in a small table indexed by a hash of their length and three bytes: a record's values are
 * mostly those of the records before it, and the same string object again is decoded once and
 * hashed once (the scrub's caches look each value up), not per record.
 */
const SHORT_MAX = 32
const SLOTS = 256
const slotBytes = new Uint8Array(SLOTS * SHORT_MAX)
const slotLength = new Int32Array(SLOTS).fill(-1)
const slotString: string[] = new Array<string>(SLOTS).fill('')

/** `r.string()`: the same answer, the string of a short value seen lately when its bytes are the same. */
function shortString(r: protobuf.Reader): string {
  const start = r.pos
  const len = r.uint32()
  const from = r.pos
  const buf = r.buf
  if (len === 0 || len > SHORT_MAX || from + len > r.len) {
    r.pos = start
    return r.string()
  }
  const slot = (len * 7 + buf[from] * 31 + buf[from + (len >> 1)] * 131 + buf[from + len - 1] * 17) & (SLOTS - 1)
  const at = slot * SHORT_MAX
  if (slotLength[slot] === len) {
    let same = true
    for (let j = 0; j < len; j++) {
      if (slotBytes[at + j] !== buf[from + j]) {
        same = false
        break
      }
    }
    if (same) {
      r.pos = from + len
      return slotString[slot]
    }
  }
  r.pos = start
  const s = r.string()
  for (let j = 0; j < len; j++) slotBytes[at + j] = buf[from + j]
  slotLength[slot] = len
  slotString[slot] = s
  return s
}

/** An AnyValue as a string: read in place when it is one string_value, else decoded and turned into one as mapLogs does. */
function anyValue(r: protobuf.Reader, depth: number): string {
  const len = r.uint32()
  const start = r.pos
  if (len > 0 && r.buf[start] === 0x0a && start + len <= r.len) {
    const outer = r.len
    r.len = start + len
    r.pos = start + 1
    const s = shortString(r)
    const whole = r.pos === r.len
    r.len = outer
    if (whole) return s
    r.pos = start
  }
  return anyToString(AnyValue.decode(r, len, undefined, depth) as never)
}
