import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer'
import { mapLogsProto } from './logs-wire.js'
import { mapLogs, type Mapped } from './map.js'
import { otlpMapping } from './mapping.js'
import { OtlpTypes } from './proto.js'

/**
 * The one-pass decoder of the OTLP door must answer exactly as protobufjs + mapLogs: the same
 * facts in the same order, and a refusal where they refuse. Checked on requests the SDK
 * serializes, on random requests protobufjs encodes, and on both cut short or with bytes flipped.
 */
const MAPPINGS = [otlpMapping(), otlpMapping({ resourceKeys: '*', sourceFrom: ['host.name', 'service.name'] })]
const NOW = 1_763_700_000_000

type Answer = { ok: true; mapped: Mapped } | { ok: false }
const answer = (f: () => Mapped): Answer => {
  try {
    return { ok: true, mapped: f() }
  } catch {
    return { ok: false }
  }
}

function same(bytes: Uint8Array): boolean {
  for (const m of MAPPINGS) {
    for (const fixed of [undefined, 'web-3']) {
      const wire = answer(() => mapLogsProto(bytes, m, fixed, NOW))
      const ref = answer(() => mapLogs(OtlpTypes.LogsRequest.decode(bytes) as never, m, fixed, NOW))
      expect(wire).toStrictEqual(ref)
    }
  }
  return true
}

async function sdkRequest(): Promise<Uint8Array> {
  const exporter = new InMemoryLogRecordExporter()
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'shop', 'host.name': 'web 3.example', 'deployment.environment': 'prod', 'k8s.pod.uid': 7 }),
    processors: [new BatchLogRecordProcessor({ exporter })],
  })
  const a = provider.getLogger('checkout', '1.2.0')
  const b = provider.getLogger('')
  a.emit({ timestamp: NOW - 5, severityNumber: 9, severityText: 'INFO', body: 'order 17 paid', attributes: { user: 'ana', amount: 12.5, items: 3, ok: true } })
  a.emit({ severityNumber: 17, body: { nested: { deep: [1, 'two', false] } }, attributes: { tags: ['a', 'b'], raw: new Uint8Array([1, 2, 3]) } })
  b.emit({ timestamp: new Date(NOW), body: 42, eventName: 'order.refund', attributes: { 'event.name': 'ignored' } })
  b.emit({ body: '', attributes: { 'event.name': 'cart.empty', '': 'no key' }, severityText: 'WARN' })
  b.emit({ body: 'with context', context: undefined, attributes: { severity: 'from attrs', trace_id: 'x' } })
  await provider.forceFlush()
  const bytes = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!
  await provider.shutdown()
  return bytes
}

const text = fc.string({ maxLength: 6 })
const anyValue: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ v: Record<string, unknown> }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: text.map((s) => ({ stringValue: s })) },
    fc.boolean().map((x) => ({ boolValue: x })),
    fc.integer().map((x) => ({ intValue: x })),
    fc.double().map((x) => ({ doubleValue: x })),
    fc.uint8Array({ maxLength: 4 }).map((x) => ({ bytesValue: x })),
    fc.array(tie('v'), { maxLength: 2 }).map((values) => ({ arrayValue: { values } })),
    fc.array(fc.record({ key: text, value: tie('v') }), { maxLength: 2 }).map((values) => ({ kvlistValue: { values } })),
  ),
})).v
const kvs = fc.array(
  fc.record(
    { key: fc.oneof(text, fc.constantFrom('host.name', 'service.name', 'event.name', 'severity')), value: fc.option(anyValue, { nil: undefined }) },
    { requiredKeys: ['key'] },
  ),
  { maxLength: 3 },
)
const nanos = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => n.toString())
const logRecord = fc.record(
  {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: fc.integer({ min: -2, max: 30 }),
    severityText: text,
    body: anyValue,
    attributes: kvs,
    flags: fc.nat(),
    traceId: fc.uint8Array({ maxLength: 16 }),
    spanId: fc.uint8Array({ maxLength: 8 }),
    eventName: text,
  },
  { requiredKeys: [] },
)
const request = fc.record({
  resourceLogs: fc.array(
    fc.record(
      {
        resource: fc.record({ attributes: kvs }),
        scopeLogs: fc.array(
          fc.record({ scope: fc.record({ name: text, version: text }, { requiredKeys: [] }), logRecords: fc.array(logRecord, { maxLength: 3 }) }, { requiredKeys: [] }),
          { maxLength: 2 },
        ),
        schemaUrl: text,
      },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
})
const encode = (o: object) => OtlpTypes.LogsRequest.encode(OtlpTypes.LogsRequest.fromObject(o)).finish()

/** Cut short, or with bytes changed: what a broken client or a bad network sends. */
const damaged = (bytes: Uint8Array) =>
  fc.oneof(
    fc.nat({ max: bytes.length }).map((n) => bytes.subarray(0, n)),
    fc.array(fc.tuple(fc.nat({ max: Math.max(0, bytes.length - 1) }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((flips) => {
      const b = Uint8Array.from(bytes)
      for (const [i, v] of flips) if (i < b.length) b[i] = v
      return b
    }),
  )

describe('mapLogsProto (the OTLP door reads logs in one pass)', () => {
  it('maps the SDK exporter’s requests exactly as protobufjs + mapLogs, whole and damaged', async () => {
    const bytes = await sdkRequest()
    const whole = mapLogsProto(bytes, MAPPINGS[0], undefined, NOW)
    expect(whole.facts).toHaveLength(5)
    expect(whole.facts[0]).toMatchObject({
      source: 'web-3-example',
      type: 'log',
      message: 'order 17 paid',
      attrs: { 'otel.scope': 'checkout', amount: '12.5', items: '3', ok: 'true', severity: 'INFO' },
    })
    same(bytes)
    fc.assert(fc.property(damaged(bytes), same), { numRuns: 500 })
  })

  it('maps random requests exactly as protobufjs + mapLogs, whole and damaged', () => {
    fc.assert(
      fc.property(request, (o) => same(encode(o))),
      { numRuns: 300 },
    )
    fc.assert(fc.property(request.map(encode).chain(damaged), same), { numRuns: 500 })
  })

  it('reads fields in any order: a resource after its scopes, a scope after its records', () => {
    const w = OtlpTypes.LogsRequest.root.lookupType('opentelemetry.proto.ResourceLogs')
    const s = OtlpTypes.LogsRequest.root.lookupType('opentelemetry.proto.ScopeLogs')
    const scope = s.encode(s.fromObject({ logRecords: [{ body: { stringValue: 'late scope' } }] })).finish()
    const scopeName = s.encode(s.fromObject({ scope: { name: 'sc' } })).finish()
    const resource = w.encode(w.fromObject({ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] } })).finish()
    // ScopeLogs = records then scope; ResourceLogs = scope logs then resource (concatenated messages merge)
    const sl = Buffer.concat([scope, scopeName])
    const rl = Buffer.concat([Buffer.from([0x12, sl.length]), sl, resource])
    const req = Buffer.concat([Buffer.from([0x0a, rl.length]), rl])
    const out = mapLogsProto(req, MAPPINGS[0], undefined, NOW)
    expect(out.facts).toEqual([expect.objectContaining({ source: 'h1', message: 'late scope', attrs: expect.objectContaining({ 'otel.scope': 'sc', 'host.name': 'h1' }) })])
    same(req)
  })
})
