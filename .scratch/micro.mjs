// per-stage CPU of the sidecar's OTLP path, in process, no sockets
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer'
import { SeverityNumber } from '@opentelemetry/api'
const D = '/work/i13/dist/'
const { mapLogsProto } = await import(D + 'intake/otlp/logs-wire.js')
const { otlpMapping } = await import(D + 'intake/otlp/mapping.js')
const { Intake } = await import(D + 'sidecar/intake.js')
const { parseRecord, seqHeaderLine } = await import(D + 'sidecar/record.js')
const { FactCodec, defaultRegistry, parseEdgeFact } = await import(D + 'schemas/index.js')
const { Subjects } = await import(D + 'streams/index.js')
const { defaultManifest, scrubStage, versioned } = await import(D + 'processors/scrub/index.js')

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
  return bytes
}
const reqs = []
for (let r = 0; r < 20; r++) reqs.push(Buffer.from(await request(r)))
console.log('request bytes', reqs[0].length, 'per record', (reqs[0].length / B).toFixed(0))
const m = otlpMapping()
const manifest = versioned(defaultManifest({ hashKey: 'bench-hash-key-0123456789' }))
const intake = new Intake('bench-otlp-2', new Subjects(), new FactCodec(defaultRegistry()), () => manifest)
const ROUNDS = Number(process.env.ROUNDS ?? 10)
const time = (name, f) => {
  for (let w = 0; w < 3; w++) f(w)
  const c0 = process.cpuUsage(); const t0 = performance.now()
  let n = 0
  for (let r = 0; r < ROUNDS; r++) n += f(r)
  const c = process.cpuUsage(c0); const t = performance.now() - t0
  console.log(name.padEnd(28), ((c.user + c.system) / n).toFixed(2).padStart(7), 'µs cpu/rec', ((t * 1000) / n).toFixed(2).padStart(7), 'µs wall/rec')
}
const mapped = reqs.map((b) => mapLogsProto(b, m, 'bench-otlp-2', Date.now()))
time('mapLogsProto', (r) => mapLogsProto(reqs[r % 20], m, 'bench-otlp-2', Date.now()).facts.length)
time('parseEdgeFact', (r) => { const f = mapped[r % 20].facts; for (const x of f) parseEdgeFact(x, undefined, { arrivedAt: Date.now() }); return f.length })
const raws = mapped.map((mm) => mm.facts.map((x) => parseEdgeFact(x, undefined, { arrivedAt: Date.now() }).value))
time('scrubStage.step', (r) => { const f = raws[r % 20]; for (const x of f) scrubStage.step(null, x, manifest); return f.length })
const { frameFact } = await import(D + 'sidecar/record.js')
const codec = new FactCodec(defaultRegistry())
const scrubbed = raws.map((f) => f.map((x) => { const s = scrubStage.step(null, x, manifest).out[0]; return { ...x, payload: s.payload, producer: 'bench-otlp-2', config: s.config, explain: null, redactions: s.redactions } }))
time('frameFact', (r) => { const f = scrubbed[r % 20]; for (const x of f) frameFact('ben.fact.event.bench-otlp-2', codec, x); return f.length })
const { canonicalJson } = await import(D + 'schemas/canonical.js')
const { contentId } = await import(D + 'schemas/edge.js')
time('contentId', (r) => { const f = raws[r % 20]; for (const x of f) contentId('event', x.source, x.ts, x.payload); return f.length })
time('canonicalJson', (r) => { const f = raws[r % 20]; for (const x of f) canonicalJson(x.payload); return f.length })
time('intake.prepare (all)', (r) => { const f = mapped[r % 20].facts; for (const x of f) intake.prepare(x); return f.length })
const recs = mapped[0].facts.map((x) => intake.prepare(x))
time('parseRecord+seqline', (r) => { let k = 0; for (const x of recs) { parseRecord(x); seqHeaderLine(r * B + k++) } return recs.length })
time('map+prepare', (r) => { const mm = mapLogsProto(reqs[r % 20], m, 'bench-otlp-2', Date.now()); for (const x of mm.facts) intake.prepare(x); return mm.facts.length })
