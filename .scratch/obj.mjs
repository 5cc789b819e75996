const base = {}; base['service.name'] = 'bench-0'; base['host.name'] = 'bench-host'
const keys = ['user', 'route', 'status']
const vals = Array.from({ length: 2048 }, (_, i) => [`user${i % 500}`, '/login', String(200 + i % 3)])
function a() { const out = []; for (let i = 0; i < 2048; i++) { const o = { ...base }; o['otel.scope'] = 'bench'; for (let k = 0; k < 3; k++) o[keys[k]] = vals[i][k]; o.severity = 'INFO'; out.push({ lane: 'event', source: 's', ts: i, type: 'log', message: 'm', attrs: o }) } return out }
function b() { const out = []; for (let i = 0; i < 2048; i++) { const o = {}; for (const k in base) o[k] = base[k]; o['otel.scope'] = 'bench'; for (let k = 0; k < 3; k++) o[keys[k]] = vals[i][k]; o.severity = 'INFO'; out.push({ lane: 'event', source: 's', ts: i, type: 'log', message: 'm', attrs: o }) } return out }
for (const [n, f] of [['spread', a], ['copy', b], ['spread', a], ['copy', b]]) {
  for (let w = 0; w < 50; w++) f()
  const c0 = process.cpuUsage(); for (let r = 0; r < 300; r++) f(); const c = process.cpuUsage(c0)
  console.log(n, ((c.user + c.system) / 300 / 2048).toFixed(3), 'µs/obj', %HasFastProperties(a()[0].attrs), %HasFastProperties(b()[0].attrs))
}
