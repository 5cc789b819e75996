import { parseYamlCached } from '../../schemas/yaml.js'
import { z } from 'zod'
import type { Result } from '../../schemas/index.js'
import { formatDuration, parseDuration } from '../policy/index.js'
import type { Versioned } from '../stage.js'
import { IncidentError, IncidentErrorCode } from './errors.js'

/** KV bucket holding the incident config (revision 0 = the built-in default). */
export const INCIDENT_BUCKET = 'ben-incidents'

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v)
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `${what} '${String(v)}' is not a positive duration: write e.g. 30s, 10m, 1h, 1d or whole milliseconds` })
      return z.NEVER
    }
    return ms
  })
const count = (what: string, min: number, max: number) =>
  z.number().int(`${what} must be a whole number`).min(min, `${what} must be at least ${min}`).max(max, `${what} must be at most ${max}`)
const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/
const label = z
  .string()
  .regex(LABEL_RE, 'a label name is 1-64 letters, digits, _ . -, starting with a letter or _')
  .refine((s) => s !== 'source', "'source' always correlates; list only labels (e.g. job, artifact)")
  .refine((s) => s !== '__proto__', "'__proto__' cannot be a label name")

/** The config as written (YAML or JSON). Every field is optional; see README.md. */
export const IncidentConfigSpec = z.strictObject({
  /** An incident resolves when a fact later than lastActivity + quietPeriod is seen. */
  quietPeriod: duration('quietPeriod').default(15 * 60_000),
  /** An incident resolves when a fact later than openedAt + maxDuration is seen, however busy. */
  maxDuration: duration('maxDuration').default(24 * 3_600_000),
  /** Labels (anomaly labels, alert attrs, decision labels, command args) that, with the source, name the entity. */
  correlate: z
    .array(label)
    .max(8, 'correlate lists at most 8 labels')
    .refine((xs) => new Set(xs).size === xs.length, 'correlate lists each label once')
    .default(['job', 'artifact']),
  /** Fact ids kept per incident (the opener, then key facts before routine ones). */
  maxFacts: count('maxFacts', 4, 10_000).default(256),
  /** Open incidents at most; beyond, the one quiet the longest is resolved early. */
  maxOpen: count('maxOpen', 1, 1_000_000).default(10_000),
  /** Ids remembered for lineage links and de-duplication; beyond, the oldest sixteenth (event time) is forgotten. */
  maxIds: count('maxIds', 16, 10_000_000).default(100_000),
  /** Ids older than the watermark minus this are forgotten. */
  idRetention: duration('idRetention').default(24 * 3_600_000),
})
export type IncidentConfigSpec = z.input<typeof IncidentConfigSpec>

/** A loaded, validated and frozen incident config (the stage's `C`). */
export interface IncidentConfig {
  readonly quietPeriodMs: number
  readonly maxDurationMs: number
  readonly correlate: readonly string[]
  readonly maxFacts: number
  readonly maxOpen: number
  readonly maxIds: number
  readonly idRetentionMs: number
  /** `15m`, `1d`: precomputed for explanations. */
  readonly quietText: string
  readonly maxDurationText: string
}

function issuesOf(e: z.ZodError): string[] {
  return e.issues.map((i) => {
    const path = i.path.length ? i.path.join('.') : '(config)'
    if (i.code === 'unrecognized_keys')
      return `incident config: unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}; known: ${Object.keys(IncidentConfigSpec.shape).join(', ')}`
    return `incident config ${path}: ${i.message}`
  })
}

/** Validates and freezes an already parsed config value (e.g. JSON from KV). */
export function compileIncidentConfig(raw: unknown): Result<IncidentConfig, IncidentError> {
  const p = IncidentConfigSpec.safeParse(raw ?? {})
  if (!p.success) return { ok: false, error: new IncidentError(IncidentErrorCode.Invalid, issuesOf(p.error)) }
  const s = p.data
  return {
    ok: true,
    value: Object.freeze({
      quietPeriodMs: s.quietPeriod,
      maxDurationMs: s.maxDuration,
      correlate: Object.freeze([...s.correlate]),
      maxFacts: s.maxFacts,
      maxOpen: s.maxOpen,
      maxIds: s.maxIds,
      idRetentionMs: s.idRetention,
      quietText: formatDuration(s.quietPeriod),
      maxDurationText: formatDuration(s.maxDuration),
    }),
  }
}

/** Parses (YAML or JSON text), validates and freezes an incident config. Errors name the field. */
export function loadIncidentConfig(text: string): Result<IncidentConfig, IncidentError> {
  let raw: unknown
  try {
    raw = text.trim() === '' ? {} : parseYamlCached('incident-config', text, { uniqueKeys: true })
  } catch (cause) {
    return { ok: false, error: new IncidentError(IncidentErrorCode.Syntax, [`incident config is not valid YAML/JSON: ${(cause as Error).message}`], { cause }) }
  }
  return compileIncidentConfig(raw)
}

let cached: Versioned<IncidentConfig> | undefined

/** The built-in default (revision 0 of `ben-incidents`): 15m quiet, 1d max, correlate job and artifact. */
export function defaultIncidentConfig(): Versioned<IncidentConfig> {
  if (cached) return cached
  const r = compileIncidentConfig({})
  if (!r.ok) throw r.error
  cached = Object.freeze({ bucket: INCIDENT_BUCKET, revision: 0, value: r.value })
  return cached
}
