import avro from 'avsc'
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fingerprintHex } from './fingerprint.js'
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

/**
 * avsc's string type, writing short ASCII strings (most of a fact's: ids, sources, keys, labels)
 * in one pass: avsc measures every string's UTF-8 length with Buffer.byteLength first. The same
 * bytes (a one-byte zig-zag length, then the characters); anything else is avsc's own write.
 */
class AsciiFastString extends AvroString {
  override _write(tap: Tap, val: unknown): void {
    if (typeof val === 'string' && val.length < 64) {
      const n = val.length
      const buf = tap.buf
      const at = tap.pos + 1
      if (at + n <= buf.length) {
        let i = 0
        for (; i < n; i++) {
          const c = val.charCodeAt(i)
          if (c >= 0x80) break
          buf[at + i] = c
        }
        if (i === n) {
          buf[at - 1] = n << 1
          tap.pos = at + n
          return
        }
      }
    }
    super._write(tap, val)
  }
}

/** Plain `string` schemas get AsciiFastString (the same type to avsc: typeName, schema, reads). */
const typeHook = (schema: unknown): avro.Type | undefined =>
  schema === 'string' || (schema !== null && typeof schema === 'object' && (schema as { type?: unknown }).type === 'string' && !('logicalType' in schema))
    ? (new AsciiFastString() as unknown as avro.Type)
    : undefined

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
