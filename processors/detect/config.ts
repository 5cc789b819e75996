import { parseYamlCached } from '../../schemas/yaml.js'
import { canonicalJson, describeIssues, fail, hashId, ok, RejectReason, type Result } from '../../schemas/index.js'
import { BUILTIN_DEFAULTS, type SeverityCutoffs } from './defaults.js'
import { buildEnsemble, type Ensemble, type MemberParams } from './ensemble.js'
import { compileGlob } from '../../schemas/index.js'
import { pcaDetector, type PcaParams, type PcaState } from './pca.js'
import type { Detector } from './detector.js'
import { DetectorConfigSpec, type DetectorsSpec, type EnsembleSpec, type GroupSpec, type RuleSpec } from './schema.js'

/** What one univariate series runs: resolved once per rule at load, shared by its series. */
export interface SeriesSettings {
  /** Name of the rule that matched, or `default`. */
  readonly rule: string
  /**
   * Fingerprint (32 hex digits of SHA-256) of the canonical JSON of the resolved parameters: a
   * series' state is reset when it changes. Each series' checkpoint stores this, not the settings.
   */
  readonly key: string
  /** The resolved parameters the key is the fingerprint of (ensemble and enabled members). */
  readonly params: { readonly ens: Readonly<Record<string, unknown>>; readonly members: Readonly<Record<string, unknown>> }
  readonly ensemble: Ensemble
  readonly severity: SeverityCutoffs
}

/** A multivariate group (streaming PCA over several metrics of one source). */
export interface GroupSettings {
  readonly name: string
  readonly key: string
  readonly metrics: readonly string[]
  readonly pca: Detector<PcaState, { ts: number; values: ArrayLike<number> }>
  readonly threshold: number
  readonly severity: SeverityCutoffs
}

/** Membership of a metric in a group: its index in the group's vector. */
export interface GroupMember {
  readonly group: GroupSettings
  readonly index: number
}

export interface DetectorLimits {
  readonly maxSeries: number
  readonly maxGroups: number
  readonly maxLatenessMs: number
  /** Series one source may have (new ones past it are refused with `cardinality_limit`). */
  readonly maxSeriesPerSource: number
  /** A source at its limit first drops its series idle this long (event time; 0: never). */
  readonly idleAfterMs: number
}

/** A loaded, validated, precompiled and frozen detector config (the `ben-detectors` value). */
export interface DetectorConfig {
  /** The validated file content (plain data). */
  readonly spec: DetectorConfigSpec
  readonly limits: DetectorLimits
  /** Settings for a (source, metric) series, or null when a rule disables it. Cached. */
  resolve(source: string, metric: string): SeriesSettings | null
  /** The groups this metric of this source belongs to (empty for most). Cached. */
  groupsFor(source: string, metric: string): readonly GroupMember[]
}

const CACHE_MAX = 65_536
const NO_GROUPS: readonly GroupMember[] = Object.freeze([])

/** Parses, validates and compiles a detector config. Errors name the field and what to do. */
export function loadDetectorConfig(text: string): Result<DetectorConfig> {
  let raw: unknown
  try {
    raw = text.trim() === '' ? {} : parseYamlCached('detector-config', text)
  } catch (err) {
    return fail(RejectReason.Invalid, `detector config is not valid YAML/JSON: ${(err as Error).message}`)
  }
  if (raw === null || raw === undefined) raw = {}
  return compileDetectorConfig(raw)
}

/** Validates and compiles an already parsed config value (e.g. from JSON in KV). */
export function compileDetectorConfig(raw: unknown): Result<DetectorConfig> {
  const parsed = DetectorConfigSpec.safeParse(raw)
  if (!parsed.success) return fail(RejectReason.Invalid, `detector config: ${describeIssues(parsed.error)} (fix the field(s) named; see processors/detect/default-detectors.yaml)`)
  const spec = parsed.data
  const severityErr =
    checkSeverity(spec.ensemble?.severity, 'ensemble.severity') ?? spec.rules?.map((r, i) => checkSeverity(r.ensemble?.severity, `rules.${i}.ensemble.severity`)).find(Boolean)
  if (severityErr) return fail(RejectReason.Invalid, `detector config: ${severityErr}`)

  const base = { ensemble: spec.ensemble, detectors: spec.detectors }
  const compiled = (spec.rules ?? []).map((rule, i) => ({
    source: compileGlob(rule.match.source),
    metric: compileGlob(rule.match.metric),
    settings: rule.enabled === false ? null : resolveSettings(rule.name ?? `rules[${i}]`, base, rule),
  }))
  const fallback = resolveSettings('default', base, undefined)
  const groups = (spec.groups ?? []).map((g) => ({ source: compileGlob(g.match?.source), settings: groupSettings(g, spec) }))
  const maxLat = spec.limits?.maxLateness ?? BUILTIN_DEFAULTS.limits.maxLateness
  const limits: DetectorLimits = Object.freeze({
    maxSeries: spec.limits?.maxSeries ?? BUILTIN_DEFAULTS.limits.maxSeries,
    maxGroups: spec.limits?.maxGroups ?? BUILTIN_DEFAULTS.limits.maxGroups,
    maxLatenessMs: maxLat,
    maxSeriesPerSource: spec.limits?.maxSeriesPerSource ?? BUILTIN_DEFAULTS.limits.maxSeriesPerSource,
    idleAfterMs: spec.limits?.idleAfter ?? BUILTIN_DEFAULTS.limits.idleAfter,
  })

  const seriesCache = new Map<string, SeriesSettings | null>()
  const groupCache = new Map<string, readonly GroupMember[]>()
  const config: DetectorConfig = {
    spec: deepFreeze(spec),
    limits,
    resolve(source, metric) {
      const k = source + '\u0000' + metric
      const hit = seriesCache.get(k)
      if (hit !== undefined) return hit
      let found: SeriesSettings | null = fallback
      for (const r of compiled) {
        if (r.source(source) && r.metric(metric)) {
          found = r.settings
          break
        }
      }
      if (seriesCache.size >= CACHE_MAX) seriesCache.clear()
      seriesCache.set(k, found)
      return found
    },
    groupsFor(source, metric) {
      if (groups.length === 0) return NO_GROUPS
      const k = source + '\u0000' + metric
      const hit = groupCache.get(k)
      if (hit !== undefined) return hit
      const found: GroupMember[] = []
      for (const g of groups) {
        const index = g.settings.metrics.indexOf(metric)
        if (index >= 0 && g.source(source)) found.push({ group: g.settings, index })
      }
      const value = found.length ? Object.freeze(found) : NO_GROUPS
      if (groupCache.size >= CACHE_MAX) groupCache.clear()
      groupCache.set(k, value)
      return value
    },
  }
  return ok(Object.freeze(config))
}

function checkSeverity(s: EnsembleSpec['severity'], at: string): string | undefined {
  if (!s) return undefined
  const d = BUILTIN_DEFAULTS.ensemble.severity
  const m = s.medium ?? d.medium
  const h = s.high ?? d.high
  const c = s.critical ?? d.critical
  return m <= h && h <= c ? undefined : `${at}: cut-offs must satisfy medium <= high <= critical (got ${m}, ${h}, ${c})`
}

type Layer = { ensemble?: EnsembleSpec; detectors?: DetectorsSpec }

function pick<T extends object>(...layers: Array<Partial<T> | undefined>): T {
  const out: Record<string, unknown> = {}
  for (const l of layers) if (l) for (const [k, v] of Object.entries(l)) if (v !== undefined) out[k] = v
  return out as T
}

function resolveSettings(rule: string, base: Layer, over: RuleSpec | undefined): SeriesSettings {
  const d = BUILTIN_DEFAULTS
  const { severity: sevBase, ...ensBase } = d.ensemble
  const ens = pick<typeof ensBase>(ensBase, strip(base.ensemble), strip(over?.ensemble))
  const severity = pick<SeverityCutoffs>(sevBase, base.ensemble?.severity, over?.ensemble?.severity)
  const det = (name: keyof DetectorsSpec) => pick<Record<string, unknown>>(d.detectors[name] as unknown as Record<string, unknown>, base.detectors?.[name], over?.detectors?.[name])
  const members: Record<string, unknown> = {}
  for (const name of ['ewma', 'cusum', 'mad', 'seasonal', 'shift', 'spike', 'range', 'flat', 'level', 'drift'] as const) {
    const p = det(name)
    if (p.enabled === false) continue
    const { enabled: _e, period, ...rest } = p
    members[name] = name === 'seasonal' ? { ...rest, periodMs: period } : rest
  }
  const key = hashId(canonicalJson({ ens, members }))
  // the high/critical cut-offs are the floors of extreme readings and spikes; they change no state, so they are not in the key
  return Object.freeze({
    rule,
    key,
    params: deepFreeze({ ens: { ...ens }, members }),
    ensemble: buildEnsemble({ ...ens, critical: severity.critical, high: severity.high, medium: severity.medium }, members as MemberParams),
    severity: Object.freeze(severity),
  })
}

function strip(e: EnsembleSpec | undefined): Partial<EnsembleSpec> | undefined {
  if (!e) return undefined
  const { severity: _s, ...rest } = e
  return rest
}

function groupSettings(g: GroupSpec, spec: DetectorConfigSpec): GroupSettings {
  const params: PcaParams = { ...pick<Omit<PcaParams, 'dim'>>(BUILTIN_DEFAULTS.pca, g.pca), dim: g.metrics.length }
  const threshold = g.ensemble?.threshold ?? spec.ensemble?.threshold ?? BUILTIN_DEFAULTS.ensemble.threshold
  const severity = pick<SeverityCutoffs>(BUILTIN_DEFAULTS.ensemble.severity, spec.ensemble?.severity, g.ensemble?.severity)
  return Object.freeze({ name: g.name, key: hashId(canonicalJson({ params, threshold })), metrics: Object.freeze([...g.metrics]), pca: pcaDetector(params), threshold, severity })
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}
