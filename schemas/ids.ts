import { createHash } from 'node:crypto'

/** 32 hex digits (128 bits) of SHA-256: fact ids are content addresses. */
export function hashId(...parts: readonly string[]): string {
  const h = createHash('sha256')
  for (const p of parts) {
    h.update(p)
    h.update('\u0000')
  }
  return h.digest('hex').slice(0, 32)
}

/**
 * The id of a derived fact: a hash of the stage, its version, the config revision it ran
 * under, the input fact ids and a discriminator (when one input yields several outputs).
 * Same inputs, same id: this is what makes re-derivation after a crash de-duplicate.
 */
export function derivedId(
  stage: string,
  version: string,
  revision: number | string,
  inputIds: readonly string[],
  discriminator = '',
): string {
  return hashId(stage, version, String(revision), inputIds.join(','), discriminator)
}
