import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { mapLogs, mapMetrics } from './map.js'
import { otlpMapping } from './mapping.js'
import { idHex, nanosToMs } from './values.js'
import { OtlpTypes } from './proto.js'

const M = otlpMapping()

describe('OTLP values', () => {
  it('turns nanoseconds into whole milliseconds exactly, from Long, string or number', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (ns) => {
        const want = Number(ns / 1_000_000n)
        const long = { low: Number(ns & 0xffffffffn) | 0, high: Number(ns >> 32n) | 0, unsigned: true }
        expect(nanosToMs(long)).toBe(want)
        expect(nanosToMs(ns.toString())).toBe(want)
      }),
    )
    expect(nanosToMs(8_999_999_999_999)).toBe(8_999_999) // numbers: exact below 2^53
  })
  it('writes ids as lowercase hex, and all-zero ids as absent', () => {
    expect(idHex(Uint8Array.from([0x5b, 0x8e, 0xff]))).toBe('5b8eff')
    expect(idHex('5B8EFF')).toBe('5b8eff')
    expect(idHex(new Uint8Array(16))).toBe('')
  })
})

describe('mapLogs / mapMetrics', () => {
  it('maps a protobuf-decoded request the same as its JSON form', () => {
    const json = {
      resourceLogs: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: 'api' } },
              { key: 'host.name', value: { stringValue: 'h.1' } },
            ],
          },
          scopeLogs: [
            {
              scope: { name: 's' },
              logRecords: [
                {
                  timeUnixNano: '1763700000000000001',
                  severityNumber: 17,
                  body: { kvlistValue: { values: [{ key: 'a', value: { intValue: '7' } }] } },
                  attributes: [{ key: 'tags', value: { arrayValue: { values: [{ stringValue: 'x' }, { boolValue: true }] } } }],
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                },
              ],
            },
          ],
        },
      ],
    }
    const proto = OtlpTypes.LogsRequest.decode(
      OtlpTypes.LogsRequest.encode(
        OtlpTypes.LogsRequest.fromObject({
          ...json,
          resourceLogs: [
            {
              ...json.resourceLogs[0],
              scopeLogs: [
                {
                  ...json.resourceLogs[0].scopeLogs[0],
                  logRecords: [{ ...json.resourceLogs[0].scopeLogs[0].logRecords[0], traceId: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex') }],
                },
              ],
            },
          ],
        }),
      ).finish(),
    )
    const a = mapLogs(json, M, undefined, 5)
    const b = mapLogs(proto as never, M, undefined, 5)
    expect(a.facts).toEqual([
      {
        lane: 'event',
        source: 'h-1',
        ts: 1_763_700_000_000,
        type: 'log',
        message: '{"a":7}',
        attrs: { 'service.name': 'api', 'host.name': 'h.1', 'otel.scope': 's', tags: '["x",true]', severity: 'ERROR', trace_id: '0102030405060708090a0b0c0d0e0f10' },
      },
    ])
    expect(b.facts).toEqual(a.facts)
  })
  it('drops points with no recorded value and says which', () => {
    const m = mapMetrics(
      { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: '1000000' }, { flags: 1 }] } }, { name: 'empty' }] }] }] },
      M,
      'sc',
      9,
    )
    expect(m.records).toBe(3)
    expect(m.facts).toEqual([{ lane: 'metric', source: 'sc', ts: 1, name: 'g', value: 1, labels: {} }])
    expect(m.dropped.map((d) => [d.record, d.reason])).toEqual([
      [1, 'no_value'],
      [2, 'no_value'],
    ])
  })
})
