/**
 * Reading OTLP values as protobufjs decodes them (Long, Uint8Array) and as OTLP/JSON writes
 * them (decimal strings, hex ids): the mapper sees both through these.
 */

interface LongLike {
  readonly low: number
  readonly high: number
}

const isLong = (v: unknown): v is LongLike => typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number'

/** Nanoseconds since the epoch (fixed64: Long, decimal string or number) → whole milliseconds, exactly. 0 when absent. */
export function nanosToMs(v: unknown): number {
  if (v === undefined || v === null) return 0
  if (typeof v === 'number') return Math.floor(v / 1e6)
  if (typeof v === 'string') {
    if (!/^\d+$/.test(v)) return 0
    return v.length > 6 ? Number(v.slice(0, -6)) : 0
  }
  if (isLong(v)) return nanosPartsToMs(v.low, v.high)
  return 0
}

/** A fixed64 of nanoseconds given as its two 32-bit halves → whole milliseconds, exactly. */
export function nanosPartsToMs(low: number, high: number): number {
  // (hi·2^32 + lo) / 10^6 without losing a digit: 2^32 = 4294·10^6 + 967296.
  const hi = high >>> 0
  const lo = low >>> 0
  return hi * 4294 + Math.floor((hi * 967296 + lo) / 1e6)
}

/** A 64-bit integer value (int64, sfixed64, fixed64) as a JS number (exact up to 2^53). */
export function int64(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'string') return Number(v)
  if (isLong(v)) return (v as LongLike & { unsigned?: boolean }).unsigned ? (v.high >>> 0) * 4294967296 + (v.low >>> 0) : v.high * 4294967296 + (v.low >>> 0)
  return NaN
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Trace and span ids: bytes (protobuf) or hex (JSON) → lowercase hex; '' when absent or all zero. */
export function idHex(v: unknown): string {
  if (typeof v === 'string') return /^0*$/.test(v) ? '' : v.toLowerCase()
  if (v instanceof Uint8Array) {
    let s = ''
    let zero = true
    for (let i = 0; i < v.length; i++) {
      if (v[i] !== 0) zero = false
      s += HEX[v[i]]
    }
    return zero ? '' : s
  }
  return ''
}

interface AnyValue {
  stringValue?: string | null
  boolValue?: boolean | null
  intValue?: unknown
  doubleValue?: number | string | null
  arrayValue?: { values?: AnyValue[] | null } | null
  kvlistValue?: { values?: KeyValue[] | null } | null
  bytesValue?: Uint8Array | string | null
}
export interface KeyValue {
  key?: string | null
  value?: AnyValue | null
}

const has = (o: object, k: string): boolean =>
  Object.prototype.hasOwnProperty.call(o, k) && (o as Record<string, unknown>)[k] !== null && (o as Record<string, unknown>)[k] !== undefined

/**
 * An AnyValue as plain JS (for JSON of arrays and maps). Own properties only: protobufjs puts
 * the defaults of every oneof member on the prototype, so the member that is set is the own one.
 */
function plain(v: AnyValue | null | undefined): unknown {
  if (!v) return null
  if (has(v, 'stringValue')) return v.stringValue
  if (has(v, 'boolValue')) return v.boolValue
  if (has(v, 'intValue')) return int64(v.intValue)
  if (has(v, 'doubleValue')) return Number(v.doubleValue)
  if (has(v, 'arrayValue')) return (v.arrayValue!.values ?? []).map(plain)
  if (has(v, 'kvlistValue')) {
    const o: Record<string, unknown> = {}
    for (const kv of v.kvlistValue!.values ?? []) if (kv.key) o[kv.key] = plain(kv.value)
    return o
  }
  if (has(v, 'bytesValue')) return typeof v.bytesValue === 'string' ? v.bytesValue : Buffer.from(v.bytesValue!).toString('base64')
  return null
}

/** An AnyValue as the string an edge label or attribute holds: scalars as themselves, arrays and maps as JSON. */
export function anyToString(v: AnyValue | null | undefined): string {
  if (!v) return ''
  if (has(v, 'stringValue')) return v.stringValue!
  const p = plain(v)
  if (p === null) return ''
  return typeof p === 'object' ? JSON.stringify(p) : String(p)
}

/** True when a oneof member or optional field is set (own property, not null). */
export const isSet = has

/**
 * A copy of a resource's string map, for a record to add its own keys to: the same keys in the
 * same order as `{ ...base }`, but V8 adds properties to an object made by a spread at many
 * times the cost (about 6 µs a log record here, more than the rest of its decoding).
 */
export function copyOfBase(base: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  const keys = Object.keys(base)
  for (let i = 0; i < keys.length; i++) out[keys[i]] = base[keys[i]]
  return out
}

/** Attributes into a string map (later keys of the same name win, as in OTLP). */
export function attributesInto(into: Record<string, string>, kvs: readonly KeyValue[] | null | undefined): void {
  if (!kvs) return
  for (const kv of kvs) if (kv.key) into[kv.key] = anyToString(kv.value)
}

export function findAttribute(kvs: readonly KeyValue[] | null | undefined, key: string): string | undefined {
  if (!kvs) return undefined
  for (const kv of kvs) if (kv.key === key) return anyToString(kv.value)
  return undefined
}
