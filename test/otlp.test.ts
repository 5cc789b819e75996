/**
 * OTLP/HTTP intake with the official OpenTelemetry JS SDK as the client (logs and metrics,
 * protobuf and JSON, gzip), against a real nats-server: every record becomes one fact in FACTS,
 * attributes map as README "OTLP" says, partial success is read by the SDK itself, and bad
 * requests (malformed protobuf, wrong content type, oversized, bad gzip) are refused with a
 * 4xx and counted while the door keeps serving.
 */
import { gzipSync } from 'node:zlib'
import { diag, DiagLogLevel, ValueType } from '@opentelemetry/api'
import { SeverityNumber } from '@opentelemetry/api-logs'
import { OTLPLogExporter as LogsProto } from '@opentelemetry/exporter-logs-otlp-proto'
import { OTLPLogExporter as LogsJson } from '@opentelemetry/exporter-logs-otlp-http'
import { OTLPMetricExporter as MetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto'
import { OTLPMetricExporter as MetricsJson } from '@opentelemetry/exporter-metrics-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs'
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FactPublisher, metricsRegistry } from '../streams/index.js'
import { publisherSink, serveOtlp, sidecarSink, type Door } from '../intake/index.js'
import { createSidecar } from '../sidecar/index.js'
import { generateKeyPair } from '../keys/index.js'
import { join } from 'node:path'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { readStream, storedAtLeast, streamCount } from './support/sidecar.js'

let t: TestNats
let publisher: FactPublisher
let door: Door
const warnings: string[] = []

beforeAll(async () => {
  t = await startTestNats()
  publisher = new FactPublisher(t.nc, t.subjects)
  door = await serveOtlp(publisherSink(publisher), { host: '127.0.0.1', port: 0 }, { maxBodyBytes: 1 << 20 })
  diag.setLogger(
    {
      error: (m, ...a) => warnings.push(`${m} ${a.join(' ')}`),
      warn: (m, ...a) => warnings.push(`${m} ${a.join(' ')}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  )
})
afterAll(async () => {
  await door?.close()
  await publisher?.close()
  await t?.stop()
  diag.disable()
})

const url = (signal: string) => `http://127.0.0.1:${door.port}/v1/${signal}`

async function emitLogs(exporter: LogRecordExporter, host: string, n: number, body = (i: number) => `request ${i} served`): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'host.name': host, 'service.name': 'checkout', 'k8s.pod.uid': 'not-copied' }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 256, maxQueueSize: 4096, scheduledDelayMillis: 60_000 })],
  })
  const logger = provider.getLogger('shop', '1.2.3')
  for (let i = 0; i < n; i++)
    logger.emit({
      timestamp: 1_763_700_000_000 + i,
      severityNumber: i % 2 ? SeverityNumber.ERROR : SeverityNumber.INFO,
      body: body(i),
      attributes: { 'http.route': '/pay', 'http.status_code': 200 + i, 'user.id': `u${i}` },
    })
  await provider.forceFlush()
  await provider.shutdown()
}

async function recordOnce(exporter: PushMetricExporter, host: string): Promise<void> {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'host.name': host, 'service.name': 'checkout' }),
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 })],
  })
  const meter = provider.getMeter('shop')
  meter.createCounter('orders', { valueType: ValueType.INT }).add(7, { region: 'eu' })
  meter.createHistogram('latency_ms').record(12.5, { route: '/pay' })
  meter.createHistogram('latency_ms').record(7.5, { route: '/pay' })
  meter.createObservableGauge('queue.depth').addCallback((r) => r.observe(42, { queue: 'mail' }))
  await provider.forceFlush()
  await provider.shutdown()
}

describe('OTLP/HTTP intake with the OpenTelemetry JS SDK exporters', () => {
  it('takes logs over protobuf with gzip and over JSON: one event fact per record, attributes mapped', async () => {
    const before = await streamCount(t.nc, 'FACTS')
    await emitLogs(new LogsProto({ url: url('logs'), compression: 'gzip' as never }), 'web 7.example', 300)
    await emitLogs(new LogsJson({ url: url('logs') }), 'web-8', 200)
    await waitFor('500 log facts', async () => (await streamCount(t.nc, 'FACTS')) - before >= 500 || undefined, 120_000)
    const proto = await readStream(t.nc, 'FACTS', 'ben.fact.event.web-7-example')
    const json = await readStream(t.nc, 'FACTS', 'ben.fact.event.web-8')
    expect(proto.length).toBe(300)
    expect(json.length).toBe(200)
    const f = proto.find((m) => m.fact.ts === 1_763_700_000_005)!.fact
    expect(f.source).toBe('web-7-example')
    expect(f.payload).toMatchObject({ type: 'log', message: 'request 5 served' })
    const attrs = (f.payload as { attrs: Record<string, string> }).attrs
    expect(attrs).toMatchObject({
      'http.route': '/pay',
      'http.status_code': '205',
      'user.id': 'u5',
      severity: 'ERROR',
      'otel.scope': 'shop',
      'service.name': 'checkout',
      'host.name': 'web 7.example',
    })
    expect(attrs['k8s.pod.uid']).toBeUndefined()
    const g = json.find((m) => m.fact.ts === 1_763_700_000_004)!.fact
    expect((g.payload as { attrs: Record<string, string> }).attrs.severity).toBe('INFO')
  })

  it('takes metrics over protobuf and JSON: counters, gauges and histograms become metric facts', async () => {
    await recordOnce(new MetricsProto({ url: url('metrics'), compression: 'gzip' as never }), 'db-1')
    await recordOnce(new MetricsJson({ url: url('metrics') }), 'db-2')
    for (const host of ['db-1', 'db-2']) {
      const facts = await storedAtLeast(t.nc, 'FACTS', `ben.fact.metric.${host}`, 4)
      const byName = Object.fromEntries(facts.map((m) => [(m.fact.payload as { name: string }).name, m.fact.payload as { value: number; labels: Record<string, string> }]))
      expect(Object.keys(byName).sort()).toEqual(['latency_ms.count', 'latency_ms.sum', 'orders', 'queue.depth'])
      expect(byName.orders).toMatchObject({ value: 7, labels: { region: 'eu', 'service.name': 'checkout' } })
      expect(byName['latency_ms.count'].value).toBe(2)
      expect(byName['latency_ms.sum'].value).toBe(20)
      expect(byName['queue.depth']).toMatchObject({ value: 42, labels: { queue: 'mail' } })
    }
  })

  it('answers partial success for records that cannot be facts, and the SDK reads it (protobuf and JSON)', async () => {
    for (const [exporter, host] of [
      [new LogsProto({ url: url('logs') }), 'partial-p'],
      [new LogsJson({ url: url('logs') }), 'partial-j'],
    ] as const) {
      warnings.length = 0
      const memory = new InMemoryLogRecordExporter()
      const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'host.name': host }), processors: [new SimpleLogRecordProcessor({ exporter: memory })] })
      const logger = provider.getLogger('x')
      logger.emit({ timestamp: 1_763_700_100_000, body: 'fine' })
      logger.emit({ timestamp: 1_763_700_100_001, body: 'x'.repeat(70_000) })
      logger.emit({ timestamp: 1_763_700_100_002, body: 'also fine' })
      const result = await new Promise<{ code: number }>((r) => exporter.export(memory.getFinishedLogRecords(), r))
      expect(result.code).toBe(0)
      expect(warnings.join('\n')).toMatch(/Partial Success.*"?rejectedLogRecords"?\s*:\s*"?1/)
      expect(warnings.join('\n')).toContain('message')
      const stored = await waitFor('2 facts', async () => ((await readStream(t.nc, 'FACTS', `ben.fact.event.${host}`)).length === 2 ? true : undefined), 120_000)
      expect(stored).toBe(true)
      await exporter.shutdown()
    }
  })

  it('refuses what is not OTLP with a 4xx and a reason, counts it, and keeps serving', async () => {
    const post = (body: Buffer | string, headers: Record<string, string>, signal = 'logs') =>
      fetch(url(signal), { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers })
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02])
    // Made before the first request: compressing 80 MB blocks this process (about 0.4 s of CPU,
    // over 5 s at load 20+), and a kept-alive connection left idle that long is closed by the
    // door (keepAliveTimeout 5 s) just as the next request goes out on it: read ECONNRESET.
    const bomb = gzipSync(Buffer.alloc(80 << 20, 32))
    const r1 = await post(garbage, { 'Content-Type': 'application/x-protobuf' })
    expect(r1.status).toBe(400)
    const r2 = await post('{"resourceLogs":[]}', { 'Content-Type': 'text/plain' })
    expect(r2.status).toBe(415)
    const r3 = await post('{"resourceLogs": [', { 'Content-Type': 'application/json' })
    expect(r3.status).toBe(400)
    expect(((await r3.json()) as { message: string }).message).toMatch(/not an OTLP JSON logs request/)
    const r4 = await post(Buffer.alloc(2 << 20, 1), { 'Content-Type': 'application/x-protobuf' })
    expect(r4.status).toBe(413)
    const r5 = await post(Buffer.from('not gzip at all'), { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })
    expect(r5.status).toBe(400)
    const r6 = await post(bomb, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })
    expect(r6.status).toBe(413)
    const r8 = await post('{"resourceLogs": 5}', { 'Content-Type': 'application/json' })
    expect(r8.status).toBe(400)
    const r7 = await fetch(url('traces'), { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } })
    expect(r7.status).toBe(404)
    const text = await metricsRegistry.metrics()
    for (const reason of ['malformed', 'unsupported_media', 'too_large']) expect(text).toMatch(new RegExp(`ben_intake_dropped_total\\{door="otlp",reason="${reason}"\\} [1-9]`))
    // still serving: a valid request after all that is stored
    const ok = await post(
      JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'host.name', value: { stringValue: 'after-bad' } }] },
            scopeLogs: [{ logRecords: [{ timeUnixNano: '1763700200000123456', body: { stringValue: 'still here' } }] }],
          },
        ],
      }),
      { 'Content-Type': 'application/json' },
    )
    expect(ok.status).toBe(200)
    const stored = await waitFor('the fact after bad input', async () => (await readStream(t.nc, 'FACTS', 'ben.fact.event.after-bad'))[0], 120_000)
    expect(stored.fact.ts).toBe(1_763_700_200_000)
  })

  it('in a sidecar: the sidecar speaks only for itself (resource host.name becomes an attr), facts are scrubbed at the edge', async () => {
    const dir = tempDir('ben-otlp-sc-')
    const sc = await createSidecar({ id: 'edge-9', nats: t.nc, walDir: join(dir.path, 'wal'), keyPair: generateKeyPair('sidecar') })
    const scDoor = await serveOtlp(sidecarSink(sc), { host: '127.0.0.1', port: 0 })
    try {
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'host.name': 'someone-else' }),
        processors: [new BatchLogRecordProcessor({ exporter: new LogsProto({ url: `http://127.0.0.1:${scDoor.port}/v1/logs` }), scheduledDelayMillis: 60_000 })],
      })
      const logger = provider.getLogger('app')
      for (let i = 0; i < 20; i++) logger.emit({ timestamp: 1_763_700_300_000 + i, body: `login ok for alice${i}@example.org` })
      await provider.forceFlush()
      await provider.shutdown()
      const facts = await storedAtLeast(t.nc, 'FACTS', 'ben.fact.event.edge-9', 20)
      expect(facts.length).toBe(20)
      expect((await readStream(t.nc, 'FACTS', 'ben.fact.event.someone-else')).length).toBe(0)
      const p = facts[0].fact.payload as { message: string; attrs: Record<string, string> }
      expect(p.attrs['host.name']).toBe('someone-else')
      expect(p.message).not.toMatch(/alice\d+@example\.org/) // redacted before it left the sidecar
      expect(facts[0].fact.producer).toBe('edge-9')
    } finally {
      await scDoor.close()
      await sc.close()
      dir.remove()
    }
  })

  it('in a sidecar, a request of more records than the door hands on at once: each stored, a refusal in a later batch named by its record', async () => {
    const dir = tempDir('ben-otlp-chunks-')
    const sc = await createSidecar({ id: 'edge-10', nats: t.nc, walDir: join(dir.path, 'wal'), keyPair: generateKeyPair('sidecar') })
    const scDoor = await serveOtlp(sidecarSink(sc), { host: '127.0.0.1', port: 0 }, { batch: 4 })
    const exporter = new LogsProto({ url: `http://127.0.0.1:${scDoor.port}/v1/logs` })
    try {
      warnings.length = 0
      const memory = new InMemoryLogRecordExporter()
      const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: memory })] })
      const logger = provider.getLogger('x')
      // batches of 4 records: [0-3], [4-7], [8-10]; record 7 is refused (its message is over the edge's limit)
      for (let i = 0; i < 11; i++) logger.emit({ timestamp: 1_763_700_400_000 + i, body: i === 7 ? 'x'.repeat(70_000) : `record ${i}` })
      const result = await new Promise<{ code: number }>((r) => exporter.export(memory.getFinishedLogRecords(), r))
      expect(result.code).toBe(0)
      expect(warnings.join('\n')).toMatch(/Partial Success.*"?rejectedLogRecords"?\s*:\s*"?1/)
      expect(warnings.join('\n')).toContain('#7: invalid')
      const facts = await storedAtLeast(t.nc, 'FACTS', 'ben.fact.event.edge-10', 10)
      expect(facts.map((f) => (f.fact.payload as { message: string }).message).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10].map((i) => `record ${i}`).sort())
    } finally {
      await exporter.shutdown()
      await scDoor.close()
      await sc.close()
      dir.remove()
    }
  })

  it('closes connections past its bound, counts them, and serves again once they are gone', async () => {
    const small = await serveOtlp(publisherSink(publisher), { host: '127.0.0.1', port: 0 }, { maxConnections: 4 })
    const { connect } = await import('node:net')
    const held = Array.from({ length: 12 }, () => connect(small.port, '127.0.0.1').on('error', () => undefined))
    try {
      await waitFor(
        'refused connections to be counted',
        async () => /ben_intake_dropped_total\{door="otlp",reason="too_many_connections"\} [1-9]/.test(await metricsRegistry.metrics()) || undefined,
        120_000,
      )
    } finally {
      for (const s of held) s.destroy()
    }
    const body = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'after-flood' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1763700400000000000', body: { stringValue: 'served' } }] }],
        },
      ],
    })
    const ok = await waitFor(
      'the door to serve again',
      async () => {
        const r = await fetch(`http://127.0.0.1:${small.port}/v1/logs`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } }).catch(() => undefined)
        return r?.status === 200 || undefined
      },
      120_000,
    )
    expect(ok).toBe(true)
    await small.close()
  })
})
