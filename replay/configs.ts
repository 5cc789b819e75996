import type { NatsConnection } from '@nats-io/nats-core'
import { Bucket, kvName, openBucket } from '../streams/index.js'
import type { Versioned } from '../processors/stage.js'
import type { CompiledManifest } from '../processors/scrub/index.js'
import type { DetectorConfig } from '../processors/detect/index.js'
import type { CompiledPack } from '../processors/policy/index.js'
import type { ActConfig } from '../processors/act/index.js'
import type { KeyPair } from '../keys/index.js'
import type { IncidentConfig } from '../processors/incident/index.js'
import { actConfigOf, PIPELINE, type ConfigSpec } from '../processors/pipeline.js'
import { ReplayError, ReplayErrorCode } from './errors.js'

export type { ConfigSpec } from '../processors/pipeline.js'

/** Each stage's config as the stage graph describes it: the same bucket, key, loader and default as `ben up`. */
export const ConfigSpecs = {
  scrub: PIPELINE.scrub.config as ConfigSpec<CompiledManifest>,
  detect: PIPELINE.detect.config as ConfigSpec<DetectorConfig>,
  policy: PIPELINE.policy.config as ConfigSpec<CompiledPack>,
  incident: PIPELINE.incident.config as ConfigSpec<IncidentConfig>,
} as const

/** One KV revision as read from the history (what a worker thread needs to rebuild the history). */
export interface ConfigEntry {
  readonly revision: number
  /** When the revision was written (KV message time, ms). */
  readonly created: number
  /** null for a delete/purge marker. */
  readonly text: string | null
}

/**
 * One stage's config history: every revision still in the KV bucket's history, compiled on
 * first use with the live loader (revision 0 = the built-in default). `at(revision)` gives the
 * exact config a derived fact records; `revisionAt(time)` the revision that was active at a
 * wall-clock time, skipping revisions the live ConfigSource would have refused. With `override`
 * (what-if), every revision maps to the override's value under the same revision number.
 */
export class ConfigHistory<C> {
  private readonly cache = new Map<number, Versioned<C>>()
  private valid: ConfigEntry[] | undefined

  private constructor(
    readonly spec: ConfigSpec<C>,
    private readonly entries: readonly ConfigEntry[],
    private readonly override?: C,
  ) {}

  static async open<C>(nc: NatsConnection, streamPrefix: string | undefined, spec: ConfigSpec<C>, override?: C): Promise<ConfigHistory<C>> {
    const entries: ConfigEntry[] = []
    try {
      const kv = await openBucket(nc, kvName({ streamPrefix }, spec.bucket))
      const it = await kv.history({ key: spec.key })
      for await (const e of it) {
        entries.push({ revision: e.revision, created: e.created.getTime(), text: e.operation === 'PUT' ? e.string() : null })
      }
    } catch {
      // no bucket or no history: only the built-in default exists
    }
    entries.sort((a, b) => a.revision - b.revision)
    return new ConfigHistory(spec, entries, override)
  }

  /** A fixed history (tests, benches): only the built-in default, or `override`. */
  static fixed<C>(spec: ConfigSpec<C>, override?: C): ConfigHistory<C> {
    return new ConfigHistory(spec, [], override)
  }

  /** The same history from `revisions()` (on a worker thread; no what-if override). */
  static fromRevisions<C>(spec: ConfigSpec<C>, entries: readonly ConfigEntry[]): ConfigHistory<C> {
    return new ConfigHistory(spec, entries)
  }

  /** The revisions read from KV, to rebuild this history elsewhere (`fromRevisions`). */
  revisions(): readonly ConfigEntry[] {
    return this.entries
  }

  get overridden(): boolean {
    return this.override !== undefined
  }

  /** The config recorded as `{ [bucket]: revision }`; throws ReplayError when it is gone. */
  at(revision: number): Versioned<C> {
    let v = this.cache.get(revision)
    if (v) return v
    let value: C
    if (this.override !== undefined) value = this.override
    else if (revision === 0) value = this.spec.fallback()
    else {
      const e = this.entries.find((x) => x.revision === revision)
      if (!e || e.text === null) {
        const kept = this.entries.length ? `revisions ${this.entries[0].revision}..${this.entries[this.entries.length - 1].revision} are kept` : 'it holds no revision'
        throw new ReplayError(
          ReplayErrorCode.ConfigMissing,
          `${this.spec.bucket}/${this.spec.key} revision ${revision} is no longer in the KV history (${kept}); it cannot be replayed exactly`,
        )
      }
      const r = this.spec.load(e.text)
      if (!r.ok) throw new ReplayError(ReplayErrorCode.ConfigMissing, `${this.spec.bucket}/${this.spec.key} revision ${revision} does not load: ${r.error.message}`)
      value = r.value
    }
    v = Object.freeze({ bucket: this.spec.bucket, revision, value })
    this.cache.set(revision, v)
    return v
  }

  /** The revision a live ConfigSource held at wall-clock `timeMs`: the last loadable PUT written by then, else 0. */
  revisionAt(timeMs: number): number {
    const valid = (this.valid ??= this.entries.filter((e) => e.text !== null && this.spec.load(e.text).ok))
    let rev = 0
    for (const e of valid) {
      if (e.created > timeMs) break
      rev = e.revision
    }
    return rev
  }
}

/** Act's config follows the policy pack (verb settings, ttl) and signs with the issuer key. */
export class ActConfigs {
  private readonly cache = new Map<number, Versioned<ActConfig>>()
  constructor(
    private readonly packs: ConfigHistory<CompiledPack>,
    private readonly issuer: KeyPair,
  ) {}

  at(revision: number): Versioned<ActConfig> {
    let v = this.cache.get(revision)
    if (v) return v
    const p = this.packs.at(revision).value
    const r = actConfigOf(p, this.issuer)
    if (!r.ok) throw new ReplayError(ReplayErrorCode.ConfigMissing, `act config for ben-policy revision ${revision}: ${r.error.message}`)
    v = Object.freeze({ bucket: Bucket.Policy, revision, value: r.value })
    this.cache.set(revision, v)
    return v
  }
}
