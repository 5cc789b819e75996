import type { RawKind } from '../../schemas/index.js'
import { Action, MAP_FIELD, TOP_FIELDS, matchesPath, type FieldDecision, type PathGlob } from './fields.js'
import type { FieldRule, Limits } from './manifest-schema.js'
import { findSecrets, type Engine } from './scan.js'
import { classifyKey, KeyClass } from './generic.js'

/** A loaded, validated, precompiled redaction manifest. Frozen; safe to share between stages. */
export interface CompiledManifest {
  readonly name: string
  readonly description: string | null
  readonly unknownFields: 'keep' | 'drop'
  /** Enabled detectors, in priority order. */
  readonly detectors: readonly string[]
  readonly ruleCount: number
  /** keyed: hash rules use the HMAC key; masked: no key, hash rules mask instead; unused: nothing hashes. */
  readonly hashing: 'keyed' | 'masked' | 'unused'
  readonly limits: Readonly<Limits>
  /** Things an operator should know (e.g. the hash key is missing and hashing degraded to masking). */
  readonly warnings: readonly string[]
}

export interface CompiledRule {
  readonly index: number
  readonly glob: PathGlob
  readonly rule: FieldRule
  readonly kinds: ReadonlySet<RawKind> | null
  /** Effective action (a hash rule without a key masks). */
  readonly action: Action
  readonly placeholder: string
}

/** Default placeholder of the `mask` rule, and of values that would not settle. */
export const MASK_PLACEHOLDER = '[redacted]'
const CACHE_LIMIT = 4096
const KINDS: readonly RawKind[] = ['metric', 'event', 'diag', 'alert']

/**
 * The compiled form. Everything per-fact work needs is resolved here once: detector regexes,
 * path globs, the decision for every top-level field of every kind, and a bounded cache of
 * decisions for map keys (keys repeat, so after warm-up a map entry costs one Map lookup).
 */
export class ManifestImpl implements CompiledManifest {
  readonly detectors: readonly string[]
  readonly ruleCount: number
  /** Per-field detector counts, reused (the stage is synchronous). */
  readonly counts: Int32Array
  /** TOP_FIELDS[kind][i] → decision. */
  readonly top: Readonly<Record<RawKind, readonly FieldDecision[]>>
  private readonly keyCache: Record<RawKind, Map<string, FieldDecision>>
  /** Rank of the `credential` detector, or -1 when it is off (then attr keys are not read as assignment keys). */
  readonly credentialRank: number

  constructor(
    readonly name: string,
    readonly description: string | null,
    readonly unknownFields: 'keep' | 'drop',
    readonly hashing: 'keyed' | 'masked' | 'unused',
    readonly limits: Readonly<Limits>,
    readonly warnings: readonly string[],
    readonly engine: Engine,
    private readonly exact: ReadonlyMap<string, readonly CompiledRule[]>,
    private readonly globs: readonly CompiledRule[],
    private readonly scanGlobs: readonly PathGlob[],
  ) {
    this.detectors = Object.freeze(engine.detectors.map((d) => d.name))
    this.ruleCount = globs.length + [...exact.values()].reduce((n, r) => n + r.length, 0)
    this.counts = new Int32Array(engine.detectors.length)
    this.credentialRank = engine.detectors.findIndex((d) => d.name === 'credential')
    const top = {} as Record<RawKind, FieldDecision[]>
    for (const k of KINDS) top[k] = TOP_FIELDS[k].map((f) => this.resolve(k, f, null))
    this.top = top
    this.keyCache = { metric: new Map(), event: new Map(), diag: new Map(), alert: new Map() }
  }

  /** The decision for map entry `key` of this kind's map (attrs or labels). */
  decideKey(kind: RawKind, key: string): FieldDecision {
    const cache = this.keyCache[kind]
    let d = cache.get(key)
    if (d === undefined) {
      d = this.resolve(kind, `${MAP_FIELD[kind]}.${key}`, key)
      if (cache.size >= CACHE_LIMIT) cache.clear()
      cache.set(key, d)
    }
    return d
  }

  private ruleFor(kind: RawKind, path: string): CompiledRule | null {
    const exact = this.exact.get(path.toLowerCase())
    if (exact) for (const r of exact) if (r.kinds === null || r.kinds.has(kind)) return r
    for (const r of this.globs) if ((r.kinds === null || r.kinds.has(kind)) && matchesPath(r.glob, path)) return r
    return null
  }

  private resolve(kind: RawKind, path: string, key: string | null): FieldDecision {
    const r = this.ruleFor(kind, path)
    let keySecret: string | null = null
    if (key !== null) {
      const found = findSecrets(this.engine, key)
      if (found.length > 0) keySecret = found[0].detector
    }
    const scanned = this.scanGlobs.some((g) => matchesPath(g, path))
    const secretKey = key !== null && scanned && this.credentialRank >= 0 ? classifyKey(key) : KeyClass.None
    if (r === null) {
      const unknown = key !== null && this.unknownFields === 'drop'
      return Object.freeze({ action: Action.Keep, scan: scanned, maxLength: 0, placeholder: '', unknown, keySecret, rule: 'allow', secretKey, path })
    }
    const rule = r.rule
    const scan = rule.rule === 'allow' || rule.rule === 'truncate' ? (rule.scan ?? scanned) : false
    const maxLength = rule.rule === 'truncate' ? rule.maxLength : 0
    const label = r.action === Action.Mask ? 'mask' : rule.rule
    return Object.freeze({
      action: r.action,
      scan,
      maxLength,
      placeholder: r.placeholder,
      unknown: false,
      keySecret,
      rule: label,
      secretKey: scan ? secretKey : KeyClass.None,
      path,
    })
  }

  /** A summary safe to log: never the hash key. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      unknownFields: this.unknownFields,
      detectors: this.detectors,
      rules: this.ruleCount,
      hashing: this.hashing,
      limits: this.limits,
      warnings: this.warnings,
    }
  }
}

/** The internals of a compiled manifest (for this folder only). */
export function implOf(m: CompiledManifest): ManifestImpl {
  if (!(m instanceof ManifestImpl)) throw new TypeError('not a compiled manifest: build it with compileManifest() or loadManifest()')
  return m
}
