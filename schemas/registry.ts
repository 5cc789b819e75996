import avro from 'avsc'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fingerprintHex } from './fingerprint.js'
import { utf8Into } from './bytes.js'
import { packageRoot } from './paths.js'
import { SchemaError } from './errors.js'

export interface SchemaEntry {
  /** Full record name, e.g. `ben.Metric` (the `Ben-Schema` header). */
  readonly name: string
  /** CRC-64-AVRO of the Parsing Canonical Form, 16 hex digits (the `Ben-Schema-Fp` header). */
  readonly fingerprint: string
  readonly type: avro.Type
  /** The schema JSON as written (with defaults and docs). */
  readonly schema: object
}

interface Tap {
  buf: Buffer
  pos: number
}
const AvroString = (avro.types as unknown as { StringType: new () => { _write(tap: Tap, val: unknown): void } }).StringType
const AvroMap = (
  avro.types as unknown as { MapType: new (schema: unknown, opts: unknown) => { valuesType: { _write(tap: Tap, val: unknown): void }; _write(tap: Tap, val: unknown): void } }
).MapType

/**
 * Writes an ASCII string shorter than 8192 characters the way avsc does (a zig-zag varint length,
 * one or two bytes here, then the characters) in one pass: avsc measures every string's UTF-8
 * length with Buffer.byteLength first. False (nothing written that counts) for any other string,
 * or when the buffer is too small: the caller then writes it avsc's way.
 */
/** Strings longer than this are written by Buffer's UTF-8 write, shorter ones in a loop. */
const ASCII_LOOP_MAX = 24

function writeAscii(tap: Tap, val: string): boolean {
  const n = val.length
  if (n >= 8192) return false
  const lenBytes = n < 64 ? 1 : 2
  const buf = tap.buf
  const at = tap.pos + lenBytes
  if (at + n > buf.length) return false
  if (n > ASCII_LOOP_MAX && buf.length - at >= 3 * n) {
    // a longer string: Buffer's own UTF-8 write, which costs less than the loop from here on.
    // With room for any string of n units (3 bytes a unit at most) it writes the whole string,
    // n bytes only when every unit is ASCII (anything else takes 2 or more); otherwise what it
    // wrote past tap.pos is overwritten by avsc's own write.
    if (utf8Into(buf as Buffer, val, at) !== n) return false
  } else {
    for (let i = 0; i < n; i++) {
      const c = val.charCodeAt(i)
      if (c >= 0x80) return false
      buf[at + i] = c
    }
  }
  if (lenBytes === 1) buf[at - 1] = n << 1
  else {
    const m = n << 1
    buf[at - 2] = (m & 0x7f) | 0x80
    buf[at - 1] = m >> 7
  }
  tap.pos = at + n
  return true
}

/**
 * avsc's string type, writing ASCII strings (most of a fact's: ids, sources, keys, labels) in one
 * pass (writeAscii). The same bytes; anything else is avsc's own write.
 */
class AsciiFastString extends AvroString {
  override _write(tap: Tap, val: unknown): void {
    if (typeof val === 'string' && writeAscii(tap, val)) return
    super._write(tap, val)
  }
}

/**
 * avsc's map type, writing ASCII keys in one pass (writeAscii); the same bytes: a block count,
 * the entries, a zero count. Anything it does not take on is avsc's own write.
 */
class AsciiKeyMap extends AvroMap {
  override _write(tap: Tap, val: unknown): void {
    if (val === null || typeof val !== 'object' || Array.isArray(val)) return super._write(tap, val)
    const o = val as Record<string, unknown>
    const proto = Object.getPrototypeOf(o)
    if (proto !== Object.prototype && proto !== null) {
      const keys = Object.keys(o)
      if (keys.length) {
        writeLong(tap, keys.length)
        for (const key of keys) this.entry(tap, key, o[key])
      }
      writeLong(tap, 0)
      return
    }
    // a plain object: its keys in for-in's order, Object.keys's (nothing inherited), without the array
    let n = 0
    for (const _ in o) n++
    if (n) {
      writeLong(tap, n)
      for (const key in o) this.entry(tap, key, o[key])
    }
    writeLong(tap, 0)
  }

  private entry(tap: Tap, key: string, value: unknown): void {
    if (!writeAscii(tap, key)) (tap as unknown as { writeString(s: string): void }).writeString(key)
    this.valuesType._write(tap, value)
  }
}

const AvroArray = (avro.types as unknown as { ArrayType: new (schema: unknown, opts: unknown) => { _write(tap: Tap, val: unknown): void } }).ArrayType

/** Primitive field types whose values `===` compares by value. */
const SCALAR_FIELD = new Set(['string', 'int', 'long', 'boolean'])

/** What a RepeatingRecordArray wrote last: the values, field after field of item after item, and the bytes. */
interface Written {
  readonly fields: readonly string[]
  readonly values: unknown[]
  items: number
  bytes: Buffer
}

/**
 * avsc's array type for an array of records of scalar fields (a fact's redactions: field, rule,
 * count), writing again the bytes it wrote last when the array holds the same values: a run of
 * facts scrubbed alike carries the same redactions. The same bytes; anything else is avsc's write.
 * (avsc freezes its types: what was written last is kept in an object of its own.)
 */
function repeatingRecordArray(schema: unknown, opts: unknown, fields: readonly string[]): avro.Type {
  const last: Written = { fields, values: [], items: -1, bytes: Buffer.alloc(0) }
  class RepeatingRecordArray extends AvroArray {
    override _write(tap: Tap, val: unknown): void {
      if (!Array.isArray(val) || !sameAsLast(last, val)) {
        const start = tap.pos
        super._write(tap, val)
        if (Array.isArray(val) && tap.pos <= tap.buf.length) keep(last, val, tap.buf.subarray(start, tap.pos))
        return
      }
      const bytes = last.bytes
      const n = bytes.length
      if (tap.pos + n <= tap.buf.length) {
        const b = tap.buf
        let at = tap.pos
        for (let i = 0; i < n; i++) b[at++] = bytes[i]
      }
      tap.pos += n
    }
  }
  return new RepeatingRecordArray(schema, opts) as unknown as avro.Type
}

function sameAsLast(last: Written, val: readonly unknown[]): boolean {
  if (val.length !== last.items) return false
  const { fields, values } = last
  let k = 0
  for (let i = 0; i < val.length; i++) {
    const item = val[i] as Record<string, unknown> | null
    if (item === null || typeof item !== 'object') return false
    for (let f = 0; f < fields.length; f++) if (item[fields[f]] !== values[k++]) return false
  }
  return true
}

function keep(last: Written, val: readonly unknown[], bytes: Uint8Array): void {
  const { fields, values } = last
  let k = 0
  for (let i = 0; i < val.length; i++) {
    const item = val[i] as Record<string, unknown>
    for (let f = 0; f < fields.length; f++) values[k++] = item[fields[f]]
  }
  values.length = k
  last.items = val.length
  last.bytes = Buffer.from(bytes)
}

/** The field names of an array's inline record items when every field is a scalar; undefined otherwise. */
function scalarRecordItems(schema: object): string[] | undefined {
  const items = (schema as { items?: unknown }).items
  if (items === null || typeof items !== 'object' || (items as { type?: unknown }).type !== 'record') return undefined
  const fields = (items as { fields?: unknown }).fields
  if (!Array.isArray(fields) || fields.length === 0) return undefined
  const names: string[] = []
  for (const f of fields as Array<{ name?: unknown; type?: unknown }>) {
    if (typeof f?.name !== 'string' || typeof f.type !== 'string' || !SCALAR_FIELD.has(f.type)) return undefined
    names.push(f.name)
  }
  return names
}

/** avsc's Tap#writeLong for the small non-negative counts of maps (one or two bytes), else its own. */
function writeLong(tap: Tap, n: number): void {
  if (n < 64) {
    if (tap.pos < tap.buf.length) tap.buf[tap.pos] = n << 1
    tap.pos++
    return
  }
  ;(tap as unknown as { writeLong(n: number): void }).writeLong(n)
}

/**
 * Plain `string` schemas get AsciiFastString, maps get AsciiKeyMap, arrays of records of scalar
 * fields repeatingRecordArray's (the same types to avsc: typeName, schema, reads).
 */
const typeHook = (schema: unknown, opts: unknown): avro.Type | undefined => {
  if (schema === 'string' || (schema !== null && typeof schema === 'object' && (schema as { type?: unknown }).type === 'string' && !('logicalType' in schema)))
    return new AsciiFastString() as unknown as avro.Type
  if (schema !== null && typeof schema === 'object' && (schema as { type?: unknown }).type === 'map' && !('logicalType' in schema))
    return new AsciiKeyMap(schema, opts) as unknown as avro.Type
  if (schema !== null && typeof schema === 'object' && (schema as { type?: unknown }).type === 'array' && !('logicalType' in schema)) {
    const fields = scalarRecordItems(schema)
    if (fields) return repeatingRecordArray(schema, opts, fields)
  }
  return undefined
}

/**
 * Every schema Ben knows, by fingerprint. The latest version of each record name is the one
 * in `schemas/*.avsc`; earlier versions live in `schemas/history/` so data written under them
 * stays readable. Readers always see the latest: writer→reader resolution (Avro rules) is
 * done by cached resolvers, so old payloads are upcast at decode time.
 */
export class SchemaRegistry {
  private readonly byFp = new Map<string, SchemaEntry>()
  private readonly latestByName = new Map<string, SchemaEntry>()
  private readonly resolvers = new Map<string, avro.Resolver | null>()

  /** Loads `schemas/history/*.avsc` (older versions) and then `schemas/*.avsc` (latest). */
  static load(dir = join(packageRoot(), 'schemas')): SchemaRegistry {
    const reg = new SchemaRegistry()
    const history = join(dir, 'history')
    if (existsSync(history)) {
      for (const f of readdirSync(history)
        .filter((f) => f.endsWith('.avsc'))
        .sort()) {
        reg.register(JSON.parse(readFileSync(join(history, f), 'utf8')), { latest: false })
      }
    }
    for (const f of readdirSync(dir)
      .filter((f) => f.endsWith('.avsc'))
      .sort()) {
      reg.register(JSON.parse(readFileSync(join(dir, f), 'utf8')), { latest: true })
    }
    return reg
  }

  register(schema: object, opts: { latest: boolean } = { latest: true }): SchemaEntry {
    let type: avro.Type
    try {
      type = avro.Type.forSchema(schema as avro.Schema, { typeHook })
    } catch (cause) {
      throw new SchemaError('invalid_schema', `invalid Avro schema: ${(cause as Error).message}`, { cause })
    }
    const name = (type as unknown as { name?: string }).name
    if (!name) throw new SchemaError('invalid_schema', 'top-level schema must be a named record')
    const fingerprint = fingerprintHex(JSON.stringify(type.schema()))
    const entry: SchemaEntry = Object.freeze({ name, fingerprint, type, schema })
    this.byFp.set(fingerprint, entry)
    if (opts.latest || !this.latestByName.has(name)) this.latestByName.set(name, entry)
    return entry
  }

  byFingerprint(fingerprint: string): SchemaEntry | undefined {
    return this.byFp.get(fingerprint)
  }

  latest(name: string): SchemaEntry {
    const e = this.latestByName.get(name)
    if (!e) throw new SchemaError('unknown_schema', `no schema named ${name}`)
    return e
  }

  hasName(name: string): boolean {
    return this.latestByName.has(name)
  }

  /**
   * The resolver that reads data written with `writerFp` as the latest schema of the same
   * name, or null when the writer is the latest. Throws a SchemaError when the two are not
   * compatible under Avro's rules.
   */
  resolverFor(writer: SchemaEntry): avro.Resolver | null {
    const cached = this.resolvers.get(writer.fingerprint)
    if (cached !== undefined) return cached
    const reader = this.latest(writer.name)
    let resolver: avro.Resolver | null = null
    if (reader.fingerprint !== writer.fingerprint) {
      try {
        resolver = reader.type.createResolver(writer.type)
      } catch (cause) {
        throw new SchemaError(
          'incompatible_schema',
          `data written with ${writer.name}@${writer.fingerprint} cannot be read as ${reader.fingerprint}: ${(cause as Error).message}`,
          { cause },
        )
      }
    }
    this.resolvers.set(writer.fingerprint, resolver)
    return resolver
  }

  entries(): readonly SchemaEntry[] {
    return [...this.byFp.values()]
  }
}

let shared: SchemaRegistry | undefined
/** The registry of the schemas shipped with Ben, loaded once. */
export function defaultRegistry(): SchemaRegistry {
  return (shared ??= SchemaRegistry.load())
}
