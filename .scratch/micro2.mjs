// map+prepare only, for --cpu-prof
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer'
import { SeverityNumber } from '@opentelemetry/api'
const D = '/work/i13/dist/'
const { mapLogsProto } = await import(D + 'intake/otlp/logs-wire.js')
const { otlpMapping } = await import(D + 'intake/otlp/mapping.js')
const { Intake } = await import(D + 'sidecar/intake.js')
const { FactCodec, defaultRegistry } = await import(D + 'schemas/index.js')
const { Subjects } = await import(D + 'streams/index.js')
const { defaultManifest, versioned } = await import(D + 'processors/scrub/index.js')
const B = 2048
const TS = Date.now() - 3600_000
const message = (i) => `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`
const attrs = (i) => ({ user: `user${i % 500}`, route: '/login', status: String(200 + (i % 3)) })
async function request(run) {
  const exporter = new InMemoryLogRecordExporter()
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench-0', 'host.name': 'bench-host' }), processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: B, maxQueueSize: B })] })
  const lg = provider.getLogger('bench')
  for (let i = 0; i < B; i++) lg.emit({ timestamp: TS + run * B + i, severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: message(i), attributes: attrs(i) })
  await provider.forceFlush()
  const bytes = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())
  await provider.shutdown()
  return Buffer.from(bytes)
}
const reqs = []
for (let r = 0; r < 20; r++) reqs.push(await request(r))
const m = otlpMapping()
const manifest = versioned(defaultManifest({ hashKey: 'bench-hash-key-0123456789' }))
const intake = new Intake('bench-otlp-2', new Subjects(), new FactCodec(defaultRegistry()), () => manifest)
const R = Number(process.env.ROUNDS ?? 100)
const c0 = process.cpuUsage()
let n = 0
for (let r = 0; r < R; r++) { const mm = mapLogsProto(reqs[r % 20], m, 'bench-otlp-2', Date.now()); for (const x of mm.facts) intake.prepare(x); n += mm.facts.length }
const c = process.cpuUsage(c0)
console.log('map+prepare', ((c.user + c.system) / n).toFixed(2), 'µs cpu/rec')
