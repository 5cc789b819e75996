import { describe, expect, it } from 'vitest'
import avro from 'avsc'
import fc from 'fast-check'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { crc64Avro, fingerprintHex } from './fingerprint.js'
import { SchemaRegistry, defaultRegistry } from './registry.js'
import { FactCodec } from './codec.js'
import { packageRoot } from './paths.js'
import { RECORD_NAME, type MetricFact } from './types.js'

const metric: MetricFact = {
  id: 'f1',
  ts: 1_763_700_000_000,
  source: 'web-3',
  lane: 'routine',
  kind: 'metric',
  payload: { name: 'cpu.load', value: 0.73, labels: { job: 'batch-7' } },
  lineage: [],
  producer: 'edge',
  config: {},
  explain: null,
  redactions: [],
}

describe('CRC-64-AVRO fingerprints', () => {
  it('matches the Avro specification test vectors', () => {
    // From the Avro project's schema fingerprint tests (CRC-64-AVRO of the canonical form).
    expect(crc64Avro(new TextEncoder().encode('"null"'))).toBe(BigInt.asUintN(64, 7195948357588979594n))
    expect(crc64Avro(new TextEncoder().encode('"int"'))).toBe(BigInt.asUintN(64, 8247732601305521295n))
    expect(crc64Avro(new TextEncoder().encode('"string"'))).toBe(BigInt.asUintN(64, -8142146995180207161n))
  })

  it('fingerprints the parsing canonical form, so docs and defaults do not change it', () => {
    const a = new SchemaRegistry().register({ type: 'record', name: 'x.A', fields: [{ name: 'f', type: 'int' }] })
    const b = new SchemaRegistry().register({ type: 'record', name: 'x.A', doc: 'documented', fields: [{ name: 'f', type: 'int', default: 3, doc: 'x' }] })
    expect(a.fingerprint).toBe(b.fingerprint)
    expect(a.fingerprint).toBe(fingerprintHex('{"name":"x.A","type":"record","fields":[{"name":"f","type":"int"}]}'))
  })
})

describe('the shipped schemas', () => {
  const reg = defaultRegistry()
  it('has one record per fact kind plus dead letters and hellos, each with a distinct fingerprint', () => {
    for (const name of [...Object.values(RECORD_NAME), 'ben.DeadLetter', 'ben.Hello']) expect(reg.hasName(name)).toBe(true)
    const fps = reg.entries().map((e) => e.fingerprint)
    expect(new Set(fps).size).toBe(fps.length)
  })

  it('are plain Avro: a stock avsc type parsed from the .avsc file reads what Ben writes', () => {
    const enc = new FactCodec(reg).encode(metric)
    const stock = avro.Type.forSchema(JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'metric.avsc'), 'utf8')))
    expect(stock.fromBuffer(Buffer.from(enc.data))).toMatchObject({ id: 'f1', payload: { name: 'cpu.load', value: 0.73 } })
  })

  it('write exactly the bytes stock avsc writes, with the same fingerprints (the ASCII fast paths for strings and map keys)', () => {
    const dir = join(packageRoot(), 'schemas')
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.constantFrom('', 'é', 'a'.repeat(63), 'a'.repeat(64), `${'a'.repeat(62)}é`, 'a'.repeat(127), 'b'.repeat(8191), 'c'.repeat(8192), `${'d'.repeat(200)}é`, 'e'.repeat(300)),
    )
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.avsc'))) {
      const schema = JSON.parse(readFileSync(join(dir, f), 'utf8'))
      const stock = avro.Type.forSchema(schema)
      const ours = reg.latest((stock as unknown as { name: string }).name)
      expect(ours.fingerprint, f).toBe(fingerprintHex(JSON.stringify(stock.schema())))
      for (let i = 0; i < 50; i++) {
        const v = stock.random()
        expect(Buffer.from(ours.type.toBuffer(v)).equals(stock.toBuffer(v)), f).toBe(true)
      }
    }
    // every string field, any text: ids, sources, keys and values of maps, array items, unions
    const stock = avro.Type.forSchema(JSON.parse(readFileSync(join(dir, 'event.avsc'), 'utf8')))
    const ours = reg.latest('ben.Event').type
    fc.assert(
      fc.property(
        text,
        text,
        fc.oneof(fc.dictionary(text, text, { maxKeys: 4 }), fc.dictionary(fc.string({ maxLength: 6 }), text, { minKeys: 60, maxKeys: 90 })),
        fc.array(text, { maxLength: 3 }),
        fc.option(text),
        (id, message, attrs, lineage, explain) => {
          const v = { ...metric, id, kind: 'event', payload: { type: 'log', message, attrs }, lineage, explain }
          const small = Buffer.alloc(40) // too small: both answer how many bytes are missing
          expect(Buffer.from(ours.toBuffer(v)).equals(stock.toBuffer(v))).toBe(true)
          expect(ours.encode(v, small, 0)).toBe(stock.encode(v, Buffer.alloc(40), 0))
        },
      ),
    )
    // a map whose prototype has keys of its own: only the object's own keys are written, as avsc does
    const inherited = Object.assign(Object.create({ inherited: 'not a key' }) as Record<string, string>, { a: '1', 'b.c': 'é' })
    const v = { ...metric, id: 'x', kind: 'event', payload: { type: 'log', message: 'm', attrs: inherited }, lineage: [], explain: null }
    expect(Buffer.from(ours.toBuffer(v)).equals(stock.toBuffer(v))).toBe(true)
    expect(Buffer.from(ours.toBuffer(v)).includes('not a key')).toBe(false)
  })

  it('write the bytes stock avsc writes for runs of facts with the same redactions and others (the repeated ones written again from the last)', () => {
    const stock = avro.Type.forSchema(JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'event.avsc'), 'utf8')))
    const ours = reg.latest('ben.Event').type
    const redaction = fc.record({ field: fc.constantFrom('message', 'attrs.user', 'é'), rule: fc.constantFrom('email', 'ipv4', 'hash'), count: fc.constantFrom(1, 2, 300) })
    const same = [
      { field: 'message', rule: 'email', count: 1 },
      { field: 'attrs.user', rule: 'hash', count: 1 },
    ]
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(same), fc.array(redaction, { maxLength: 3 }), fc.constant(same.map((r) => ({ ...r })))), { maxLength: 12 }),
        fc.nat(3),
        (runs, small) => {
          for (const [i, redactions] of runs.entries()) {
            const v = { ...metric, id: `f${i}`, kind: 'event', payload: { type: 'log', message: 'm', attrs: {} }, lineage: [], explain: null, redactions }
            expect(Buffer.from(ours.toBuffer(v)).equals(stock.toBuffer(v))).toBe(true)
            // a buffer too small: both answer how many bytes are missing, and the next write is whole again
            if (i === small) expect(ours.encode(v, Buffer.alloc(40), 0)).toBe(stock.encode(v, Buffer.alloc(40), 0))
          }
        },
      ),
    )
    // an item changed in place after it was written is written as it is now
    const items = [{ field: 'message', rule: 'email', count: 1 }]
    const v = { ...metric, id: 'x', kind: 'event', payload: { type: 'log', message: 'm', attrs: {} }, lineage: [], explain: null, redactions: items }
    ours.toBuffer(v)
    items[0].count = 2
    expect(Buffer.from(ours.toBuffer(v)).equals(stock.toBuffer(v))).toBe(true)
  })

  it('declare the envelope fields every fact has (DESIGN.md "The fact")', () => {
    const dir = join(packageRoot(), 'schemas')
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.avsc') && !['dead-letter.avsc', 'hello.avsc'].includes(f))) {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { fields: Array<{ name: string }> }
      expect(s.fields.map((x) => x.name)).toEqual(expect.arrayContaining(['id', 'ts', 'source', 'lane', 'kind', 'payload', 'lineage', 'producer', 'config', 'explain']))
    }
  })
})

describe('schema evolution', () => {
  const v1 = {
    type: 'record',
    name: 'ben.Probe',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'value', type: 'double' },
    ],
  }
  const v2 = {
    type: 'record',
    name: 'ben.Probe',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'value', type: 'double' },
      { name: 'unit', type: 'string', default: 'ratio' },
      { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
    ],
  }

  it('reads data written with v1 through a v2 reader, filling defaults', () => {
    const reg = new SchemaRegistry()
    const w1 = reg.register(v1, { latest: false })
    const w2 = reg.register(v2, { latest: true })
    expect(w1.fingerprint).not.toBe(w2.fingerprint)
    const bytes = w1.type.toBuffer({ id: 'a', value: 0.5 })
    const resolver = reg.resolverFor(w1)
    expect(resolver).not.toBeNull()
    const { value, offset } = reg.latest('ben.Probe').type.decode(bytes, 0, resolver!)
    expect(offset).toBe(bytes.length)
    expect(value).toEqual(expect.objectContaining({ id: 'a', value: 0.5, unit: 'ratio', tags: [] }))
  })

  it('loads older versions from schemas/history so old facts stay readable', () => {
    const reg = SchemaRegistry.load()
    // Every history file must resolve to its latest version.
    for (const e of reg.entries()) expect(() => reg.resolverFor(e)).not.toThrow()
  })

  it('refuses incompatible evolution with a message naming both schemas', () => {
    const reg = new SchemaRegistry()
    const w = reg.register(v1, { latest: false })
    reg.register({
      type: 'record',
      name: 'ben.Probe',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'must', type: 'long' },
      ],
    })
    expect(() => reg.resolverFor(w)).toThrow(/cannot be read as/)
  })
})

describe('FactCodec', () => {
  const codec = new FactCodec()
  it('round-trips a fact', () => {
    const enc = codec.encode(metric)
    const dec = codec.decode(enc.data, enc.fingerprint)
    expect(dec).toEqual({ ok: true, value: expect.objectContaining({ ...metric, payload: expect.objectContaining(metric.payload) }) })
  })
  it('refuses unknown fingerprints, missing headers, truncated and trailing bytes without throwing', () => {
    const enc = codec.encode(metric)
    expect(codec.decode(enc.data, 'ffffffffffffffff')).toMatchObject({ ok: false, error: { reason: 'unknown_schema' } })
    expect(codec.decode(enc.data, undefined)).toMatchObject({ ok: false, error: { reason: 'missing_header' } })
    expect(codec.decode(enc.data.slice(0, 10), enc.fingerprint)).toMatchObject({ ok: false, error: { reason: 'malformed_avro', message: expect.stringMatching(/truncated/) } })
    expect(codec.decode(Buffer.concat([Buffer.from(enc.data), Buffer.from([1, 2])]), enc.fingerprint)).toMatchObject({
      ok: false,
      error: { reason: 'malformed_avro', message: expect.stringMatching(/trailing/) },
    })
  })
})
