import { z } from 'zod'
import { DETECTOR_NAMES } from './detectors.js'
import { CatalogueEntry } from './catalogue.js'

/**
 * The redaction manifest as written (YAML or JSON). Validated once at load by zod; every
 * object is strict, so a misspelt key is an error, not a silently ignored rule.
 */

export const RULE_NAMES = ['allow', 'drop', 'mask', 'hash', 'truncate'] as const
export type RuleName = (typeof RULE_NAMES)[number]

export const RAW_KIND_NAMES = ['metric', 'event', 'diag', 'alert'] as const

const path = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine((p) => !/\s/.test(p), 'must not contain whitespace')
const kinds = z.array(z.enum(RAW_KIND_NAMES)).min(1, 'must list at least one kind (or leave kinds out for all)').optional()
const scan = z.boolean().optional()
const placeholder = z
  .string()
  .min(1)
  .max(64)
  .regex(/^\S(?:.*\S)?$/, 'must not start or end with whitespace')

const AllowRule = z.object({ path, rule: z.literal('allow'), scan, kinds }).strict()
const DropRule = z.object({ path, rule: z.literal('drop'), kinds }).strict()
const MaskRule = z.object({ path, rule: z.literal('mask'), placeholder: placeholder.optional(), kinds }).strict()
const HashRule = z.object({ path, rule: z.literal('hash'), kinds }).strict()
const TruncateRule = z.object({ path, rule: z.literal('truncate'), maxLength: z.number().int('must be an integer').min(1).max(1_048_576), scan, kinds }).strict()

export const FieldRule = z.discriminatedUnion('rule', [AllowRule, DropRule, MaskRule, HashRule, TruncateRule])
export type FieldRule = z.infer<typeof FieldRule>

const allowList = z.array(z.string().min(1).max(1024)).max(10_000).default([])
const action = z.enum(['mask', 'hash']).default('mask')

export const DetectorConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** mask: `[email]`; hash: `[email:hmac:<16 hex>]` (joinable, needs the hash key). */
    action,
    /** Matched values kept as they are (exact, case-sensitive). */
    allow: allowList,
    /** Regular expressions; a matched value that fully matches one is kept. */
    allowPatterns: allowList,
  })
  .strict()
export type DetectorConfig = z.infer<typeof DetectorConfig>

/** `email: false` is short for `email: { enabled: false }`. */
const detectorEntry = z.union([z.boolean().transform((enabled) => DetectorConfig.parse({ enabled })), DetectorConfig]).optional()

export const CustomDetector = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be lowercase letters, digits and dashes, starting with a letter (it becomes the placeholder [name])')
      .refine((n) => !(DETECTOR_NAMES as readonly string[]).includes(n), 'must not reuse a built-in detector name'),
    pattern: z.string().min(1).max(4096),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'may only contain the flags i, m, s, u')
      .default(''),
    /** Optional literal that must occur in the text for the pattern to run (a cheap prefilter). */
    trigger: z.string().min(1).max(64).optional(),
    enabled: z.boolean().default(true),
    action,
    allow: allowList,
    allowPatterns: allowList,
  })
  .strict()
export type CustomDetector = z.infer<typeof CustomDetector>

const detectorShape = Object.fromEntries(DETECTOR_NAMES.map((n) => [n, detectorEntry])) as Record<(typeof DETECTOR_NAMES)[number], typeof detectorEntry>

export const Detectors = z
  .object({
    ...detectorShape,
    /** Provider token formats (see catalogue.ts), ranked after the structural built-ins and before the generic ones. */
    catalogue: z.array(CatalogueEntry).max(2000).default([]),
    custom: z.array(CustomDetector).max(64).default([]),
  })
  .strict()
  .default({ catalogue: [], custom: [] })

export const Limits = z
  .object({
    /** A free-text value longer than this (in UTF-16 units) is not scanned: the fact is rejected. */
    maxFieldLength: z.number().int().min(64).max(1_048_576).default(65_536),
    /** Most attrs/labels entries a fact may carry. */
    maxFields: z.number().int().min(1).max(100_000).default(1_024),
    /** Most characters, summed over every string in the payload. */
    maxTotalLength: z.number().int().min(64).max(16_777_216).default(262_144),
  })
  .strict()
  .default({ maxFieldLength: 65_536, maxFields: 1_024, maxTotalLength: 262_144 })
export type Limits = z.infer<typeof Limits>

export const Manifest = z
  .object({
    version: z.literal(1, 'must be 1 (the only manifest format so far)').default(1),
    name: z.string().min(1).max(128).default('unnamed'),
    description: z.string().max(4096).optional(),
    /** Environment variable holding the HMAC key for `hash`; the key itself never appears in a manifest or a fact. */
    hashKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (A-Z, 0-9, _)')
      .optional(),
    /** What to do when hashing is configured but no key is available: refuse the manifest, or mask instead. */
    missingHashKey: z.enum(['error', 'mask']).default('error'),
    /** keep: attrs/labels entries no rule covers pass (scanned); drop: they are dropped and counted (deny-unknown). */
    unknownFields: z.enum(['keep', 'drop']).default('keep'),
    limits: Limits,
    /** Paths whose values the free-text detectors scan, unless a rule says otherwise. */
    scan: z.array(path).max(256).default(['message', 'attrs.*', 'labels.*']),
    fields: z.array(FieldRule).max(4096).default([]),
    detectors: Detectors,
  })
  .strict()
export type Manifest = z.infer<typeof Manifest>

/** One line per problem, naming the rule: `fields[2] (attrs.user → hash): maxLength: …`. */
export function describeManifestIssues(error: z.ZodError, raw: unknown): string[] {
  const out: string[] = []
  for (const issue of error.issues) flatten(issue, [], raw, out)
  return out
}

type Issue = z.core.$ZodIssue

function flatten(issue: Issue, prefix: readonly PropertyKey[], raw: unknown, out: string[]): void {
  const p = [...prefix, ...issue.path]
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // report the branch that got furthest (for `email: {…}` that is the object, not the boolean)
    let best = issue.errors[0]
    for (const branch of issue.errors) if (depth(branch) > depth(best)) best = branch
    for (const sub of best) flatten(sub, p, raw, out)
    return
  }
  let msg = issue.message
  if (issue.code === 'unrecognized_keys') msg = `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`
  if (issue.code === 'invalid_union' && p[p.length - 1] === 'rule') msg = `must be one of ${RULE_NAMES.join(', ')}`
  out.push(`${where(p, raw)}: ${msg}`)
}

const depth = (issues: readonly Issue[]): number => issues.reduce((m, i) => Math.max(m, i.path.length), 0)

/** `fields[2] (attrs.user → hash).maxLength`, `detectors.email.allowPatterns[0]`, `limits.maxFields`. */
export function where(p: readonly PropertyKey[], raw: unknown): string {
  if (p.length === 0) return '(manifest)'
  let s = ''
  let node: unknown = raw
  for (let i = 0; i < p.length; i++) {
    const k = p[i]
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[k as string] : undefined
    s += typeof k === 'number' ? `[${k}]` : `${s ? '.' : ''}${String(k)}`
    if (typeof k === 'number' && (p[i - 1] === 'fields' || p[i - 1] === 'custom' || p[i - 1] === 'catalogue') && node !== null && typeof node === 'object') {
      const o = node as Record<string, unknown>
      if (p[i - 1] === 'fields') s += ` (${String(o.path ?? '?')} → ${String(o.rule ?? '?')})`
      else s += ` (${String(o.name ?? '?')})`
    }
  }
  return s
}
