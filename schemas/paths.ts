import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let root: string | undefined

/** The package root (where package.json sits), from source or from dist/. */
export function packageRoot(): string {
  if (root) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas', 'metric.avsc'))) return (root = dir)
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the ben package root (schemas/metric.avsc) above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}
