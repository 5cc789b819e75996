import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { packageRoot } from '../schemas/index.js'

/**
 * A script Ben runs in a thread of its own (a stage thread, replay's telemetry worker), built:
 * `name` beside the module that asks (`here`, its import.meta.url: dist/bundle/ when `ben` runs,
 * tsc's dist/ when a program imports Ben), else the bundle in dist/bundle/ (tests run the
 * sources, where no built script sits beside them: scripts/bundle.mjs says why a bundle).
 */
export function builtScript(name: string, here: string): URL {
  const sibling = new URL(`./${name}`, here)
  if (existsSync(fileURLToPath(sibling))) return sibling
  const bundled = join(packageRoot(), 'dist', 'bundle', name)
  if (existsSync(bundled)) return pathToFileURL(bundled)
  throw new Error(`${name} is not built (${bundled}): run \`npm run build\``)
}
