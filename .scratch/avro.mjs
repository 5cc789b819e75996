import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const D = '/work/i13/dist/'
const { FactCodec, defaultRegistry } = await import(D + 'schemas/index.js')
const codec = new FactCodec(defaultRegistry())
const fact = (i) => ({ id: 'abcdef0123456789abcdef0123456789', ts: 1796352598947 + i, source: 'bench-otlp-2', lane: 'routine', kind: 'event',
  payload: { type: 'log', message: `login ok for user${i % 500}@example.org from 10.0.${i % 250}.7`, attrs: { 'service.name': 'bench-0', 'host.name': 'bench-host', 'otel.scope': 'bench', user: `user${i % 500}`, route: '/login', status: '200', severity: 'INFO' } },
  lineage: [], producer: 'bench-otlp-2', config: { 'ben-redaction': 1 }, explain: 'sidecar bench-otlp-2 redacted 1 email (ben-redaction revision 1)', redactions: [{ field: 'message', rule: 'email', count: 1 }] })
const facts = Array.from({ length: 2048 }, (_, i) => fact(i))
const buf = Buffer.alloc(1 << 20)
const run = (label) => {
  for (let w = 0; w < 20; w++) { let p = 0; for (const f of facts) p = codec.encodeInto(f, buf, p) }
  const c0 = process.cpuUsage(); let n = 0
  for (let r = 0; r < 200; r++) { let p = 0; for (const f of facts) p = codec.encodeInto(f, buf, p); n += facts.length }
  const c = process.cpuUsage(c0); console.log(label, ((c.user + c.system) / n).toFixed(3), 'µs/fact')
}
const ref = Buffer.from(codec.encode(facts[7]).data)
run('avsc')
const { Tap } = require('avsc/lib/utils')
const orig = Tap.prototype.writeString
Tap.prototype.writeString = function (s) {
  const n = s.length
  if (n < 64) {
    const buf = this.buf
    let pos = this.pos + 1
    if (pos + n <= buf.length) {
      let i = 0
      for (; i < n; i++) { const c = s.charCodeAt(i); if (c >= 0x80) break; buf[pos + i] = c }
      if (i === n) { buf[this.pos] = n << 1; this.pos = pos + n; return }
    }
  }
  orig.call(this, s)
}
run('patched')
console.log(Buffer.from(codec.encode(facts[7]).data).equals(ref))
