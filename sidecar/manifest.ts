import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import { Bucket, kvName, openBucket } from '../streams/index.js'
import type { Versioned } from '../processors/stage.js'
import { defaultManifest, loadManifest, REDACTION_BUCKET, versioned, type CompiledManifest } from '../processors/scrub/index.js'
import { ConfigSource } from '../processors/runner/index.js'
import type { SidecarLogger } from './types.js'

/** The KV key of the active redaction manifest (the spine's scrub reads the same). */
export const MANIFEST_KEY = 'manifest'

/**
 * The manifest the intake scrubs with. Fixed, or following KV `ben-redaction` key `manifest`
 * (hot reload, like the spine). The last revision seen is cached in `cacheFile`, so a sidecar
 * restarted while NATS is down scrubs with it rather than with the built-in default.
 */
export class ManifestFollower {
  private current: Versioned<CompiledManifest>
  private source: ConfigSource<CompiledManifest> | undefined

  private constructor(
    initial: Versioned<CompiledManifest>,
    private readonly cacheFile: string | undefined,
    private readonly log?: SidecarLogger,
  ) {
    this.current = initial
  }

  static fixed(m: CompiledManifest | Versioned<CompiledManifest>): ManifestFollower {
    return new ManifestFollower('value' in m && 'revision' in m ? (m as Versioned<CompiledManifest>) : versioned(m as CompiledManifest), undefined)
  }

  /** Starts from the cached revision (or the default) until `follow()` reads KV. */
  static cached(cacheFile: string, log?: SidecarLogger): ManifestFollower {
    let initial: Versioned<CompiledManifest> | undefined
    try {
      const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as { revision?: unknown; text?: unknown }
      if (typeof c.revision === 'number' && typeof c.text === 'string') {
        const r = loadManifest(c.text)
        if (r.ok) initial = versioned(r.value, c.revision)
        else log?.warn({ file: cacheFile, err: r.error.message }, 'cached redaction manifest does not load; using the built-in default until KV answers')
      }
    } catch {
      /* no cache yet */
    }
    return new ManifestFollower(initial ?? versioned(defaultManifest()), cacheFile, log)
  }

  get = (): Versioned<CompiledManifest> => this.current

  /** Follows KV from now on (no-op for a fixed manifest). */
  async follow(nc: NatsConnection, streamPrefix: string | undefined): Promise<void> {
    if (!this.cacheFile || this.source) return
    let lastText: string | undefined
    const src = await ConfigSource.open<CompiledManifest>(await openBucket(nc, kvName({ streamPrefix }, Bucket.Redaction)), {
      bucket: REDACTION_BUCKET,
      key: MANIFEST_KEY,
      load: (t) => {
        const r = loadManifest(t)
        if (r.ok) lastText = t
        return r
      },
      fallback: () => defaultManifest(),
      ...(this.log ? { log: this.log } : {}),
    })
    this.source = src
    const take = (v: Versioned<CompiledManifest>) => {
      this.current = v
      if (v.revision > 0 && lastText !== undefined) this.save(v.revision, lastText)
    }
    take(src.get())
    src.onChange(take)
  }

  close(): void {
    this.source?.close()
  }

  private save(revision: number, text: string): void {
    if (!this.cacheFile) return
    try {
      mkdirSync(dirname(this.cacheFile), { recursive: true })
      const tmp = `${this.cacheFile}.tmp`
      writeFileSync(tmp, JSON.stringify({ revision, text }))
      renameSync(tmp, this.cacheFile)
    } catch (err) {
      this.log?.warn({ file: this.cacheFile, err: (err as Error).message }, 'cannot cache the redaction manifest')
    }
  }
}
