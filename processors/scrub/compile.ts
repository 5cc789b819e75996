import { ok, type Result } from '../../schemas/index.js'
import { cachedParse, yamlModule } from '../../schemas/yaml.js'
import { BEFORE_CATALOGUE, BUILTIN_DETECTORS, DETECTOR_NAMES, Feature, type DetectorSpec, type Validator } from './detectors.js'
import { CHECK_FN, catalogueSpec } from './catalogue.js'
import { buildKeywordIndex } from './keywords.js'
import { ManifestError, ScrubErrorCode } from './errors.js'
import { Action, compilePath, type PathGlob } from './fields.js'
import { ManifestImpl, MASK_PLACEHOLDER, type CompiledManifest, type CompiledRule } from './compiled.js'
import { Manifest, describeManifestIssues, where, type DetectorConfig } from './manifest-schema.js'
import { findSecrets, type DetectorRuntime, type Engine, type Redacted } from './scan.js'
import { TRUNCATION_MARK } from './text.js'

export interface CompileOptions {
  /** The HMAC key for `hash` rules and hashing detectors (at least 16 bytes). Wins over `hashKeyEnv`. */
  readonly hashKey?: string | Uint8Array
  /** Where `hashKeyEnv` is looked up; defaults to process.env (read once, at compile time). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** false runs every detector on every text, without the prefilter (benchmarks, diagnostics). */
  readonly prefilter?: boolean
}

const MIN_KEY_BYTES = 16

/** Parses a manifest (YAML or JSON: YAML is a superset) and compiles it. */
export function loadManifest(text: string, opts: CompileOptions = {}): Result<CompiledManifest, ManifestError> {
  const raw = cachedParse('scrub-manifest', text, (t) => {
    const doc = yamlModule().parseDocument(t, { prettyErrors: true, uniqueKeys: true })
    if (doc.errors.length === 0) return { ok: true, value: doc.toJS() as unknown }
    const issues = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      return `${pos ? `line ${pos.line}, column ${pos.col}` : '(manifest)'}: ${e.message.split('\n')[0]}`
    })
    return { ok: false, error: new ManifestError(ScrubErrorCode.ManifestSyntax, issues) } as const
  })
  if (!raw.ok) return raw
  return compileManifest(raw.value, opts)
}

/** Validates a parsed manifest object and precompiles every pattern, path and detector once. */
export function compileManifest(raw: unknown, opts: CompileOptions = {}): Result<CompiledManifest, ManifestError> {
  const parsed = Manifest.safeParse(raw ?? {})
  if (!parsed.success) return { ok: false, error: new ManifestError(ScrubErrorCode.ManifestInvalid, describeManifestIssues(parsed.error, raw)) }
  const m = parsed.data
  const issues: string[] = []
  const warnings: string[] = []

  // --- the hash key -------------------------------------------------------------------------
  const hashRules = m.fields.flatMap((r, i) => (r.rule === 'hash' ? [i] : []))
  const hashDetectors = detectorEntries(m)
    .filter(([, c]) => c.enabled && c.action === 'hash')
    .map(([n]) => n)
  let key: Buffer | null = null
  let hashing: 'keyed' | 'masked' | 'unused' = 'unused'
  if (hashRules.length > 0 || hashDetectors.length > 0) {
    const fromEnv = m.hashKeyEnv ? (opts.env ?? process.env)[m.hashKeyEnv] : undefined
    const given = opts.hashKey ?? fromEnv
    const users = [...hashRules.map((i) => where(['fields', i], raw)), ...hashDetectors.map((n) => `detectors.${n}`)].join(', ')
    if (given !== undefined && given !== '') {
      key = typeof given === 'string' ? Buffer.from(given, 'utf8') : Buffer.from(given)
      if (key.length < MIN_KEY_BYTES) {
        return {
          ok: false,
          error: new ManifestError(ScrubErrorCode.HashKeyMissing, [`hash key is ${key.length} bytes, fewer than ${MIN_KEY_BYTES} (used by ${users}): use a longer random key`]),
        }
      }
      hashing = 'keyed'
    } else if (m.missingHashKey === 'mask') {
      hashing = 'masked'
      warnings.push(
        `no hash key (${m.hashKeyEnv ? `environment variable ${m.hashKeyEnv} is not set` : 'no hashKeyEnv and no key given'}): ${users} mask instead of hashing, so those values are not joinable`,
      )
    } else {
      const how = m.hashKeyEnv ? `set the environment variable ${m.hashKeyEnv}` : `add hashKeyEnv: <ENV_VAR> to the manifest`
      return {
        ok: false,
        error: new ManifestError(ScrubErrorCode.HashKeyMissing, [
          `${users} need(s) a hash key but none is available: ${how}, pass one at compile time, or set missingHashKey: mask`,
        ]),
      }
    }
  }

  // --- detectors ---------------------------------------------------------------------------
  // ranks: structural built-ins, then the provider catalogue, then the generic built-ins and personal data, then custom
  const runtimes: DetectorRuntime[] = []
  const builtin = (name: (typeof DETECTOR_NAMES)[number], cfg: DetectorConfig): void => {
    const spec = BUILTIN_DETECTORS[name]
    runtimes.push(runtimeOf(spec, runtimes.length, cfg.action === 'hash' && key !== null, compileAllow(cfg, `detectors.${name}`, issues)))
  }
  const entries = detectorEntries(m).filter(([, c]) => c.enabled)
  for (const [name, cfg] of entries) if (BEFORE_CATALOGUE.has(name)) builtin(name, cfg)
  const seenNames = new Set<string>(DETECTOR_NAMES)
  m.detectors.catalogue.forEach((e, i) => {
    const at = where(['detectors', 'catalogue', i], raw)
    if (seenNames.has(e.name)) issues.push(`${at}: name '${e.name}' is already used (by a built-in or an earlier entry)`)
    seenNames.add(e.name)
    if (!e.enabled) return
    let spec: DetectorSpec
    try {
      spec = catalogueSpec(e)
    } catch (err) {
      issues.push(`${at}: invalid regular expression: ${(err as Error).message}`)
      return
    }
    const allow = { allowExact: null, allowRe: null }
    runtimes.push(runtimeOf(spec, runtimes.length, e.action === 'hash' && key !== null, allow, e.verify ? CHECK_FN[e.verify] : null))
  })
  for (const [name, cfg] of entries) if (!BEFORE_CATALOGUE.has(name)) builtin(name, cfg)
  m.detectors.custom.forEach((c, i) => {
    const at = where(['detectors', 'custom', i], raw)
    if (!c.enabled) return
    if (seenNames.has(c.name) || runtimes.some((r) => r.name === c.name)) issues.push(`${at}: name '${c.name}' is used twice`)
    let re: RegExp
    try {
      re = new RegExp(c.pattern, `g${c.flags}`)
    } catch (err) {
      issues.push(`${at}.pattern: invalid regular expression: ${(err as Error).message}`)
      return
    }
    if (new RegExp(`^(?:${c.pattern})$`, c.flags).test('')) issues.push(`${at}.pattern: matches the empty string; it must match at least one character`)
    runtimes.push({
      name: c.name,
      rank: runtimes.length,
      feature: c.trigger ? 0 : Feature.Always,
      keywords: c.trigger ? [c.trigger] : [],
      re,
      validate: null,
      locate: null,
      verify: null,
      shrink: false,
      hash: c.action === 'hash' && key !== null,
      placeholder: `[${c.name}]`,
      ...compileAllow(c, at, issues),
    })
  })
  const engine: Engine = Object.freeze({
    detectors: Object.freeze(runtimes),
    prefilter: opts.prefilter ?? true,
    keywordIndex: buildKeywordIndex(runtimes.map((r) => r.keywords)),
    keywordGated: Int32Array.from(runtimes.map((r) => (r.keywords.length > 0 ? 1 : 0))),
    minScan: m.detectors.custom.some((c) => c.enabled) ? 1 : 3,
    featureGated: Int32Array.from(runtimes.flatMap((r, i) => (r.feature !== 0 ? [i] : []))),
    hmacKey: key,
    hmacCache: new Map<string, string>(),
    hashedValues: new Map<string, string>(),
    cleanCache: new Set<string>(),
    redactedCache: new Map<string, Redacted>(),
    placeholders: new Set([MASK_PLACEHOLDER, ...runtimes.map((r) => r.placeholder), ...runtimes.map((r) => `[${r.name}:`)]),
  })

  // --- field rules --------------------------------------------------------------------------
  const exact = new Map<string, CompiledRule[]>()
  const globs: CompiledRule[] = []
  const seen = new Map<string, number[]>()
  m.fields.forEach((rule, i) => {
    const at = where(['fields', i], raw)
    const c = compilePath(rule.path)
    if (!c.ok) {
      issues.push(`${at}.path: ${c.error}`)
      return
    }
    for (const j of seen.get(c.glob.key) ?? []) {
      const other = m.fields[j]
      const overlap = !rule.kinds || !other.kinds || rule.kinds.some((k) => other.kinds?.includes(k))
      if (overlap) issues.push(`${at}: path '${rule.path}' is already covered by ${where(['fields', j], raw)} for the same kinds; merge them or narrow 'kinds'`)
    }
    seen.set(c.glob.key, [...(seen.get(c.glob.key) ?? []), i])
    let action: Action = ACTION_OF[rule.rule]
    let placeholder = rule.rule === 'mask' ? (rule.placeholder ?? MASK_PLACEHOLDER) : ''
    if (rule.rule === 'hash' && key === null) {
      action = Action.Mask
      placeholder = MASK_PLACEHOLDER
    }
    if (placeholder !== '') {
      const hit = findSecrets(engine, placeholder)
      if (hit.length > 0) issues.push(`${at}.placeholder: '${placeholder}' would itself be detected as ${hit[0].detector}; choose a placeholder like [redacted]`)
    }
    const compiled: CompiledRule = { index: i, glob: c.glob, rule, kinds: rule.kinds ? new Set(rule.kinds) : null, action, placeholder }
    if (c.glob.exact) exact.set(c.glob.key, [...(exact.get(c.glob.key) ?? []), compiled])
    else globs.push(compiled)
  })
  globs.sort((a, b) => b.glob.specificity - a.glob.specificity || a.index - b.index)

  const scanGlobs: PathGlob[] = []
  m.scan.forEach((p, i) => {
    const c = compilePath(p)
    if (c.ok) scanGlobs.push(c.glob)
    else issues.push(`scan[${i}]: ${c.error}`)
  })

  // Placeholders and markers must never be detected themselves: scrubbing stays idempotent.
  const samples = [...runtimes.map((r) => r.placeholder), MASK_PLACEHOLDER, TRUNCATION_MARK, 'hmac:4111111111111111', '[email:hmac:4111111111111111]']
  for (const s of samples) {
    const hit = findSecrets(engine, s)
    if (hit.length > 0) issues.push(`detectors.${hit[0].detector}: matches the placeholder '${s}', so scrubbed text would be scrubbed again; tighten the pattern`)
  }

  if (issues.length > 0) return { ok: false, error: new ManifestError(ScrubErrorCode.ManifestRule, issues) }
  const impl = new ManifestImpl(m.name, m.description ?? null, m.unknownFields, hashing, Object.freeze({ ...m.limits }), Object.freeze(warnings), engine, exact, globs, scanGlobs)
  return ok(Object.freeze(impl))
}

function runtimeOf(
  spec: DetectorSpec,
  rank: number,
  hash: boolean,
  allow: { allowExact: ReadonlySet<string> | null; allowRe: RegExp | null },
  verify: Validator | null = null,
): DetectorRuntime {
  return {
    name: spec.name,
    rank,
    feature: spec.feature,
    keywords: spec.keywords,
    re: new RegExp(spec.source, spec.flags),
    validate: spec.validate,
    locate: spec.locate ?? null,
    verify,
    shrink: spec.shrink,
    hash,
    placeholder: `[${spec.name}]`,
    ...allow,
  }
}

const ACTION_OF = { allow: Action.Keep, drop: Action.Drop, mask: Action.Mask, hash: Action.Hash, truncate: Action.Truncate } as const

function detectorEntries(m: Manifest): Array<[(typeof DETECTOR_NAMES)[number], DetectorConfig]> {
  return DETECTOR_NAMES.map((n) => [n, m.detectors[n] ?? { enabled: true, action: 'mask', allow: [], allowPatterns: [] }])
}

function compileAllow(
  cfg: { allow: readonly string[]; allowPatterns: readonly string[] },
  at: string,
  issues: string[],
): { allowExact: ReadonlySet<string> | null; allowRe: RegExp | null } {
  const parts: string[] = []
  cfg.allowPatterns.forEach((p, i) => {
    try {
      new RegExp(p)
      parts.push(`(?:${p})`)
    } catch (err) {
      issues.push(`${at}.allowPatterns[${i}]: invalid regular expression: ${(err as Error).message}`)
    }
  })
  return {
    allowExact: cfg.allow.length > 0 ? new Set(cfg.allow) : null,
    allowRe: parts.length > 0 ? new RegExp(`^(?:${parts.join('|')})$`) : null,
  }
}
