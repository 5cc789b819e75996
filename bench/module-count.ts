/**
 * `node --import dist/bench/module-count.js …`: counts the modules a process loads (ES modules
 * through a load hook, CommonJS through Module._load) and writes `{ esm, cjs }` to
 * $BEN_MODULE_COUNT_OUT at exit. bench:start uses it on a worker (`ben run`).
 */
import Module, { register } from 'node:module'
import { writeFileSync } from 'node:fs'
import { MessageChannel } from 'node:worker_threads'

const out = process.env.BEN_MODULE_COUNT_OUT
if (out) {
  const esm = new Set<string>()
  const { port1, port2 } = new MessageChannel()
  port1.on('message', (u: string) => esm.add(u))
  port1.unref()
  const hook = `let port; export function initialize(d) { port = d.port } export async function load(u, c, next) { port.postMessage(u); return next(u, c) }`
  register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { port: port2 }, transferList: [port2] })
  const cjs = new Set<string>()
  const m = Module as unknown as { _load(req: string, parent: unknown, isMain: boolean): unknown; _resolveFilename(req: string, parent: unknown, isMain: boolean): string }
  const load = m._load
  m._load = function (req: string, parent: unknown, isMain: boolean) {
    const r = load.call(this, req, parent, isMain)
    try {
      cjs.add(m._resolveFilename(req, parent, isMain))
    } catch {
      // a builtin
    }
    return r
  }
  process.on('exit', () => writeFileSync(out, JSON.stringify({ esm: esm.size, cjs: cjs.size })))
}
