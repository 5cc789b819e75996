// `npm run build`, after tsc: the processes and threads Ben starts load one bundle each
// (dist/bundle/), not hundreds of modules. Node 20 resolves, reads and compiles every ES module
// on its own: a stage thread loaded ~670 files (rxjs 223, zod 95, Ben's own 170), 0.65-0.75 s
// of CPU before its first fact, and `ben up` starts three such threads. Bundled, a thread loads
// in 0.33-0.43 s; `ben up` is ready in 3.0-3.2 s after 3.9-4.1 s of CPU (unbundled 4.2-4.5 s and
// 5.7-6.0 s), and `ben status` starts after 0.25 s of CPU instead of 0.29 (the 2-core machine,
// quiet; the whole `npm test` went from 612 to 540 s).
//
// Entry points, each named as the file it replaces so that a lookup relative to the code finds
// its sibling here too (`new URL('./alert-path-thread.js', import.meta.url)`): the CLI (bin/ben.js
// loads main.js), the stage thread, replay's telemetry worker. Commands are split into chunks
// of their own (the CLI imports each command when it is run); chunks stay beside the entries.
// The library (`dist/index.js`, for programs that import Ben) stays tsc's output.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outdir = `${root}dist/bundle`
rmSync(outdir, { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: ['cli/main.ts', 'processors/wiring/alert-path-thread.ts', 'replay/telemetry-worker.ts'],
  outdir,
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Not keepNames: it wraps every named function in a call that redefines its `name`, closures
  // made per fact too. With it, `ben up` took 0.91 cores at 3,000 facts/s against 0.86 unbundled (6
  // pairs); without, 0.87-0.89 against 0.91-0.97 (3 pairs). Ben's errors name themselves
  // (`override name = '…'`); a class esbuild renames for a clash shows so only in a stack trace.
  keepNames: false,
  // chdb is a native addon; testcontainers (opt-in container servers) pulls ssh2's native parts.
  external: ['chdb', 'testcontainers'],
  // Bundled CommonJS dependencies call require(): an ES module has none of its own.
  banner: { js: "import { createRequire as __benRequire } from 'node:module'; const require = __benRequire(import.meta.url);" },
  logLevel: 'warning',
})
