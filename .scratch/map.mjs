import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer'
const D = '/work/i13/dist/'
const { mapLogsProto } = await import(D + 'intake/otlp/logs-wire.js')
const { otlpMapping } = await import(D + 'intake/otlp/mapping.js')
const { Intake } = await import(D + 'sidecar/intake.js')
const { FactCodec, defaultRegistry, parseEdgeFact } = await import(D + 'schemas/index.js')
const { Subjects } = await import(D + 'streams/index.js')
const { defaultManifest, versioned, scrubStage } = await import(D + 'processors/scrub/index.js')
const { frameFact } = await import(D + 'sidecar/record.js')
const B = 2048, TS = Date.now() - 3600_000
const message = (i) => `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`
const attrs = (i) => ({ user: `user${i % 500}`, route: '/login', status: String(200 + (i % 3)) })
async function request(run) {
  const exporter = new InMemoryLogRecordExporter()
  const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench-0', 'host.name': 'bench-host' }), processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: B, maxQueueSize: B })] })
  const lg = provider.getLogger('bench')
  for (let i = 0; i < B; i++) lg.emit({ timestamp: TS + run * B + i, severityNumber: 9, severityText: 'INFO', body: message(i), attributes: attrs(i) })
  await provider.forceFlush()
  const bytes = ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())
  await provider.shutdown()
  return Buffer.from(bytes)
}
const reqs = []; for (let r = 0; r < 10; r++) reqs.push(await request(r))
const m = otlpMapping()
const manifest = versioned(defaultManifest({ hashKey: 'bench-hash-key-0123456789' }))
const codec = new FactCodec(defaultRegistry())
const intake = new Intake('bench-otlp-2', new Subjects(), codec, () => manifest)
const R = Number(process.env.ROUNDS ?? 60)
function time(label, f) {
  for (let w = 0; w < 5; w++) f(w)
  const c0 = process.cpuUsage(); let n = 0
  for (let r = 0; r < R; r++) n += f(r)
  const c = process.cpuUsage(c0); console.log(label.padEnd(20), ((c.user + c.system) / n).toFixed(2), 'µs/rec')
}
const mapped = reqs.map((b) => mapLogsProto(b, m, 'bench-otlp-2', Date.now()).facts)
const raws = mapped.map((fs) => fs.map((x) => parseEdgeFact(x, undefined, { arrivedAt: Date.now() }).value))
const scr = raws.map((fs) => fs.map((x) => { const s = scrubStage.step(null, x, manifest).out[0]; return { ...x, payload: s.payload, producer: 'bench-otlp-2', config: s.config, explain: s.explain, redactions: s.redactions } }))
const which = process.argv[2] ?? 'all'
if (which === 'all' || which === 'map') time('map', (r) => mapLogsProto(reqs[r % 10], m, 'bench-otlp-2', Date.now()).facts.length)
if (which === 'all' || which === 'parse') time('parseEdge', (r) => { for (const x of mapped[r % 10]) parseEdgeFact(x, undefined, { arrivedAt: Date.now() }); return B })
if (which === 'all' || which === 'scrub') time('scrub', (r) => { for (const x of raws[r % 10]) scrubStage.step(null, x, manifest); return B })
if (which === 'all' || which === 'frame') time('frame', (r) => { for (const x of scr[r % 10]) frameFact('ben.fact.event.bench-otlp-2', codec, x); return B })
if (which === 'all' || which === 'prepare') time('prepare', (r) => { for (const x of mapped[r % 10]) intake.prepare(x); return B })
if (which === 'all' || which === 'both') time('map+prepare', (r) => { for (const x of mapLogsProto(reqs[r % 10], m, 'bench-otlp-2', Date.now()).facts) intake.prepare(x); return B })
