import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot, type Result } from '../../schemas/index.js'
import { PolicyError, PolicyErrorCode } from './errors.js'
import { loadPolicyPack, type CompiledPack, type LoadOptions } from './pack.js'

/** Where the built-in pack lives: `<root>/processors/policy/default-pack.yaml`. */
export const defaultPackPath = (): string => join(packageRoot(), 'processors', 'policy', 'default-pack.yaml')

/** Loads and compiles the built-in pack (used at revision 0 until KV `ben-policy` has one). */
export function defaultPack(options: LoadOptions = {}): Result<CompiledPack, PolicyError> {
  let text: string
  const path = defaultPackPath()
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    return { ok: false, error: new PolicyError(PolicyErrorCode.Missing, [`cannot read the default policy pack at ${path}: ${(cause as Error).message}`], { cause }) }
  }
  return loadPolicyPack(text, options)
}
