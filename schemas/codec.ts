import type avro from 'avsc'
import { defaultRegistry, type SchemaEntry, type SchemaRegistry } from './registry.js'
import { RECORD_NAME, type Fact } from './types.js'
import { fail, ok, RejectReason, type Result } from './errors.js'

/** NATS headers Ben writes on every fact. */
export const Header = {
  MsgId: 'Nats-Msg-Id',
  Schema: 'Ben-Schema',
  SchemaFp: 'Ben-Schema-Fp',
} as const

export interface Encoded {
  readonly data: Uint8Array
  readonly id: string
  readonly schema: string
  readonly fingerprint: string
}

/**
 * Avro binary encoding of facts with the latest schema of their kind, and decoding of any
 * known writer schema into the latest reader schema. Schema lookups are done once per kind
 * or fingerprint, never per fact.
 */
export class FactCodec {
  private readonly writers: Map<string, SchemaEntry>

  constructor(readonly registry: SchemaRegistry = defaultRegistry()) {
    this.writers = new Map(Object.entries(RECORD_NAME).map(([kind, name]) => [kind, registry.latest(name)]))
  }

  encode(fact: Fact): Encoded {
    const w = this.writers.get(fact.kind)
    if (!w) throw new TypeError(`cannot encode fact of unknown kind ${String(fact.kind)}`)
    return { data: w.type.toBuffer(fact), id: fact.id, schema: w.name, fingerprint: w.fingerprint }
  }

  /**
   * Encodes into `buf` from `pos` without allocating the result (the publisher's hot path):
   * the end position, or a negative number when `buf` is too small (its magnitude: the bytes
   * missing). `writer` gives the schema name and fingerprint for the headers.
   */
  encodeInto(fact: Fact, buf: Buffer, pos: number): number {
    const w = this.writers.get(fact.kind)
    if (!w) throw new TypeError(`cannot encode fact of unknown kind ${String(fact.kind)}`)
    return w.type.encode(fact, buf, pos)
  }

  /** The schema a fact of this kind is written with (name and fingerprint for its headers). */
  writer(kind: Fact['kind']): { readonly name: string; readonly fingerprint: string } {
    const w = this.writers.get(kind)
    if (!w) throw new TypeError(`cannot encode fact of unknown kind ${String(kind)}`)
    return w
  }

  /** Decodes Avro bytes written under the schema with this fingerprint. Never throws. */
  decode(data: Uint8Array, fingerprint: string | undefined | null): Result<Fact> {
    return decodeWith(this.registry, data, fingerprint) as Result<Fact>
  }
}

/** Decodes any registered record (facts, dead letters, hellos). Never throws. */
export function decodeWith(registry: SchemaRegistry, data: Uint8Array, fingerprint: string | undefined | null): Result<unknown> {
  if (!fingerprint) return fail(RejectReason.MissingHeader, `message has no ${Header.SchemaFp} header: cannot tell which Avro schema wrote it`)
  const writer = registry.byFingerprint(fingerprint)
  if (!writer) {
    return fail(RejectReason.UnknownSchema, `unknown schema fingerprint ${fingerprint}: no registered schema has it (is the producer newer than this reader?)`)
  }
  let resolver: avro.Resolver | null
  try {
    resolver = registry.resolverFor(writer)
  } catch (err) {
    return fail(RejectReason.UnknownSchema, (err as Error).message)
  }
  const reader = resolver ? registry.latest(writer.name) : writer
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  try {
    const { value, offset } = resolver ? reader.type.decode(buf, 0, resolver) : reader.type.decode(buf, 0)
    if (offset < 0) return fail(RejectReason.MalformedAvro, `truncated Avro body: ${buf.length} bytes is too short for ${writer.name}`)
    if (offset !== buf.length) {
      return fail(RejectReason.MalformedAvro, `Avro body for ${writer.name} has ${buf.length - offset} trailing bytes after the record`)
    }
    return ok(value)
  } catch (err) {
    return fail(RejectReason.MalformedAvro, `cannot decode ${writer.name}: ${(err as Error).message}`)
  }
}

/** Encodes a non-fact record (dead letter, hello) with its latest schema. */
export function encodeRecord(registry: SchemaRegistry, name: string, value: unknown): Encoded {
  const w = registry.latest(name)
  return { data: w.type.toBuffer(value), id: (value as { id?: string }).id ?? '', schema: w.name, fingerprint: w.fingerprint }
}
