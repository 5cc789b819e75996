import { parseYamlCached } from '../../schemas/yaml.js'
import type { z } from 'zod'
import { SEVERITY_ORDER, type Result, type Severity } from '../../schemas/index.js'
import { PolicyError, PolicyErrorCode } from './errors.js'
import { PackSchema, type Outcome, type RawPack, type RawRule } from './pack-schema.js'
import { compileGlob, compileSubject, type Matcher } from './pattern.js'
import { compileArgs, compileTemplate, type ArgsTemplate, type Template } from './template.js'

/** Per-verb settings a pack declares; the act stage reads the same shape (ActConfig.settings). */
export interface VerbPolicy {
  /** Always propose (never act) and require an operator co-signature. */
  readonly human: boolean
  /** Command lifetime; null means the act stage's default. */
  readonly ttlMs: number | null
  /** Signer roles required to execute, `policy` normalised to `issuer`. */
  readonly signatures: readonly ('issuer' | 'operator')[]
}

export interface CompiledRule {
  readonly name: string
  /** Position in the pack (first match wins). */
  readonly index: number
  readonly description: string | null
  readonly kind: 'anomaly' | 'alert' | null
  readonly lane: Matcher | null
  readonly detector: Matcher | null
  readonly metric: Matcher | null
  /** SEVERITY_ORDER of the minimum severity; -1 for none. */
  readonly minRank: number
  readonly minScore: number | null
  readonly source: Matcher | null
  readonly subject: Matcher | null
  readonly labels: readonly (readonly [string, Matcher])[]
  readonly hours: { readonly from: number; readonly to: number } | null
  readonly outcome: Outcome
  readonly verb: string | null
  readonly target: Template
  readonly args: ArgsTemplate
  readonly severity: Severity | null
  readonly extraLabels: Readonly<Record<string, string>>
  /** Token bucket: `capacity` tokens, one more every `intervalMs` of event time. */
  readonly rate: { readonly capacity: number; readonly intervalMs: number; readonly text: string } | null
  /** Repeat-suppression window (0 = off). */
  readonly suppressMs: number
}

export interface BlastLimit {
  readonly name: string
  readonly verbs: readonly Matcher[]
  readonly max: number
  readonly windowMs: number
}

export interface CompiledPack {
  readonly name: string
  readonly description: string | null
  readonly unmatched: 'ignore' | 'alert'
  readonly rules: readonly CompiledRule[]
  /** The rule used for unmatched facts when `unmatched: alert`. */
  readonly defaultRule: CompiledRule
  readonly forbidVerbs: readonly Matcher[]
  readonly forbidTargets: readonly Matcher[]
  readonly blastRadius: readonly BlastLimit[]
  readonly verbs: Readonly<Record<string, VerbPolicy>>
  readonly defaultTtlMs: number | null
}

export interface LoadOptions {
  /** Verb names the act stage knows; when given, a rule naming another verb is an error. */
  readonly knownVerbs?: Iterable<string>
}

const fmtMs = (ms: number): string =>
  ms % 86_400_000 === 0
    ? `${ms / 86_400_000}d`
    : ms % 3_600_000 === 0
      ? `${ms / 3_600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : ms % 1000 === 0
          ? `${ms / 1000}s`
          : `${ms}ms`
export { fmtMs as formatDuration }

/** Parses, validates and compiles a policy pack (YAML or JSON text). The result is frozen. */
export function loadPolicyPack(text: string, options: LoadOptions = {}): Result<CompiledPack, PolicyError> {
  let raw: unknown
  try {
    raw = parseYamlCached('policy-pack', text, { uniqueKeys: true })
  } catch (cause) {
    return { ok: false, error: new PolicyError(PolicyErrorCode.Syntax, [`policy pack is not valid YAML/JSON: ${(cause as Error).message}`], { cause }) }
  }
  return compilePolicyPack(raw, options)
}

/** Validates and compiles an already-parsed pack object. */
export function compilePolicyPack(raw: unknown, options: LoadOptions = {}): Result<CompiledPack, PolicyError> {
  const parsed = PackSchema.safeParse(raw)
  if (!parsed.success) return { ok: false, error: new PolicyError(PolicyErrorCode.Invalid, describe(parsed.error, raw)) }
  const issues: string[] = []
  const pack = compile(parsed.data, options, issues)
  if (issues.length) return { ok: false, error: new PolicyError(PolicyErrorCode.Invalid, issues) }
  return { ok: true, value: pack }
}

/** Zod issues as lines that name the rule (`rule 'x' (rules[2]) then.verb: …`). */
function describe(error: z.ZodError, raw: unknown): string[] {
  const rules = raw !== null && typeof raw === 'object' && Array.isArray((raw as { rules?: unknown }).rules) ? (raw as { rules: unknown[] }).rules : []
  return error.issues.map((i) => {
    const path = i.path.map(String)
    if (path[0] === 'rules' && path.length >= 2) {
      const r = rules[Number(path[1])] as { name?: unknown } | undefined
      const label = r && typeof r.name === 'string' ? `rule '${r.name}' (rules[${path[1]}])` : `rules[${path[1]}]`
      return `${label} ${path.slice(2).join('.') || '(rule)'}: ${i.message}`
    }
    const where = path.length ? path.join('.') : '(pack)'
    if (i.code === 'unrecognized_keys') return `${where}: unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`
    return `${where}: ${i.message}`
  })
}

const normRole = (r: string): 'issuer' | 'operator' => (r === 'operator' ? 'operator' : 'issuer')

function compile(p: RawPack, options: LoadOptions, issues: string[]): CompiledPack {
  const known = options.knownVerbs ? new Set(options.knownVerbs) : null
  const verbs: Record<string, VerbPolicy> = {}
  for (const [v, s] of Object.entries(p.verbs)) {
    if (known && !known.has(v)) issues.push(`verbs.${v}: unknown verb (known: ${[...known].sort().join(', ')})`)
    const sigs = [...new Set(s.signatures.map(normRole))]
    if (s.human && !sigs.includes('operator')) sigs.push('operator')
    verbs[v] = Object.freeze({ human: s.human, ttlMs: s.ttl ?? null, signatures: Object.freeze(sigs) })
  }
  const seen = new Set<string>()
  const rules = p.rules.map((r, i) => {
    const label = `rule '${r.name}' (rules[${i}])`
    if (seen.has(r.name)) issues.push(`${label} name: another rule already has this name; rule names must be unique`)
    seen.add(r.name)
    return compileRule(r, i, label, p.defaults.suppress ?? 0, known, issues)
  })
  const blastNames = new Set<string>()
  const blastRadius = p.blastRadius.map((b, i) => {
    if (blastNames.has(b.name)) issues.push(`blastRadius[${i}] name: '${b.name}' is used twice; limit names must be unique`)
    blastNames.add(b.name)
    return Object.freeze({ name: b.name, verbs: Object.freeze(b.verbs.map(compileGlob)), max: b.max, windowMs: b.window })
  })
  const defaultRule = compileRule(
    { name: '(default)', when: {}, then: { outcome: 'alert' }, suppress: p.defaults.suppress },
    -1,
    'default rule',
    p.defaults.suppress ?? 0,
    null,
    issues,
  )
  return Object.freeze({
    name: p.name,
    description: p.description ?? null,
    unmatched: p.unmatched,
    rules: Object.freeze(rules),
    defaultRule,
    forbidVerbs: Object.freeze(p.forbid.verbs.map(compileGlob)),
    forbidTargets: Object.freeze(p.forbid.targets.map(compileGlob)),
    blastRadius: Object.freeze(blastRadius),
    verbs: Object.freeze(verbs),
    defaultTtlMs: p.defaults.ttl ?? null,
  })
}

function compileRule(
  r: RawRule | (Omit<RawRule, 'when'> & { when: Partial<RawRule['when']> }),
  index: number,
  label: string,
  defaultSuppress: number,
  known: Set<string> | null,
  issues: string[],
): CompiledRule {
  const w = r.when
  const t = r.then
  const acts = t.outcome === 'act' || t.outcome === 'propose'
  const verb = 'verb' in t && t.verb !== undefined ? t.verb : null
  if (acts && verb === null) issues.push(`${label} then.verb: outcome '${t.outcome}' needs a verb (e.g. throttle_job)`)
  if (!acts) {
    for (const f of ['verb', 'target', 'args'] as const) {
      if (f in t && (t as Record<string, unknown>)[f] !== undefined) issues.push(`${label} then.${f}: only used with outcome act or propose; remove it or change the outcome`)
    }
    if (r.rateLimit) issues.push(`${label} rateLimit: only applies to act or propose rules; remove it or change the outcome`)
  }
  if (verb !== null && known && !known.has(verb)) issues.push(`${label} then.verb: unknown verb '${verb}' (known: ${[...known].sort().join(', ')})`)
  let subject: Matcher | null = null
  if (w.subject !== undefined) {
    const s = compileSubject(w.subject)
    if (s.ok) subject = s.value
    else issues.push(`${label} when.subject: ${s.error}`)
  }
  const targetText = ('target' in t && t.target) || '{source}'
  const target = compileTemplate(targetText)
  if (!target.ok) issues.push(`${label} then.target: ${target.error}`)
  const args = compileArgs(('args' in t && t.args) || {})
  if (!args.ok) issues.push(`${label} then.args: ${args.error}`)
  const rate = r.rateLimit ? { capacity: r.rateLimit.max, intervalMs: r.rateLimit.per / r.rateLimit.max, text: `${r.rateLimit.max} per ${fmtMs(r.rateLimit.per)}` } : null
  return Object.freeze({
    name: r.name,
    index,
    description: r.description ?? null,
    kind: w.kind ?? null,
    lane: w.lane !== undefined ? compileGlob(w.lane) : null,
    detector: w.detector !== undefined ? compileGlob(w.detector) : null,
    metric: w.metric !== undefined ? compileGlob(w.metric) : null,
    minRank: w.severity !== undefined ? SEVERITY_ORDER[w.severity] : -1,
    minScore: w.score ?? null,
    source: w.source !== undefined ? compileGlob(w.source) : null,
    subject,
    labels: Object.freeze(Object.entries(w.labels ?? {}).map(([k, v]) => Object.freeze([k, compileGlob(v)] as const))),
    hours: w.hours ? Object.freeze({ ...w.hours }) : null,
    outcome: t.outcome,
    verb,
    target: target.ok ? target.value : { text: targetText, parts: [{ lit: '' }] },
    args: args.ok ? args.value : { constant: '{}', pieces: ['{}'], slots: [] },
    severity: ('severity' in t && t.severity) || null,
    extraLabels: Object.freeze({ ...(('labels' in t && t.labels) || {}) }),
    rate: rate && Object.freeze(rate),
    suppressMs: r.suppress ?? defaultSuppress,
  })
}
