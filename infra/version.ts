import { readFileSync } from 'node:fs'
import { join } from 'node:path'
// schemas/paths.js, not the schemas barrel: every `ben` start reads the version (see cli/main.ts)
import { packageRoot } from '../schemas/paths.js'

export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
})()
