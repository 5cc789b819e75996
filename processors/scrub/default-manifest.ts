import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import { loadManifest, type CompileOptions } from './compile.js'
import type { CompiledManifest } from './compiled.js'
import { ManifestError, ScrubErrorCode } from './errors.js'
import { REDACTION_BUCKET } from './scrub-stage.js'

/** `<package root>/processors/scrub/default-manifest.yaml`, from source or from dist/. */
export function defaultManifestPath(): string {
  return join(packageRoot(), 'processors', 'scrub', 'default-manifest.yaml')
}

/** The shipped default manifest as text (what a runner seeds `ben-redaction` with). */
export function defaultManifestText(): string {
  const path = defaultManifestPath()
  try {
    return readFileSync(path, 'utf8')
  } catch (cause) {
    throw new ManifestError(ScrubErrorCode.DefaultMissing, [`cannot read the default manifest at ${path}: is the package installed with processors/**/*.yaml?`], { cause })
  }
}

/**
 * The shipped default manifest, compiled. Throws a ManifestError when it cannot be read or
 * compiled (a start-up failure, not an expected outcome). The hash key comes from
 * `opts.hashKey` or $BEN_SCRUB_HASH_KEY; without one, hash rules mask (see `warnings`).
 */
export function defaultManifest(opts: CompileOptions = {}): CompiledManifest {
  const r = loadManifest(defaultManifestText(), opts)
  if (!r.ok) throw r.error
  return r.value
}

/** Wraps a compiled manifest as the config a stage reads (revision 0 = built-in default). */
export function versioned(manifest: CompiledManifest, revision = 0, bucket = REDACTION_BUCKET): Versioned<CompiledManifest> {
  return Object.freeze({ bucket, revision, value: manifest })
}
