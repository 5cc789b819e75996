import { z } from 'zod'
import { parseDuration } from '../../schemas/index.js'

/**
 * The policy pack as written (YAML or JSON), validated with zod once at load.
 * `pack.ts` compiles it into matchers, templates and limits; see README.md for the reference.
 */

/** `500ms`, `30s`, `10m`, `1h`, `1d` or a number of milliseconds (the shared parser). */
export { parseDuration }

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${String(v)}' is not a duration: write e.g. 30s, 10m, 1h, 1d or whole milliseconds` })
    return z.NEVER
  }
  return ms
})
const positiveDuration = duration.refine((ms) => ms > 0, 'must be longer than 0')

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/
const name = (what: string) => z.string().regex(NAME_RE, `${what} must be 1-128 characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit`)
export const VERB_RE = /^[a-z][a-z0-9_]{0,63}$/
const verb = z.string().regex(VERB_RE, 'a verb is lowercase letters, digits and _ (e.g. throttle_job)')
const pattern = z.string().min(1, 'a pattern cannot be empty').max(256)

export const OUTCOMES = ['ignore', 'alert', 'propose', 'act'] as const
export type Outcome = (typeof OUTCOMES)[number]
const outcome = z.enum(OUTCOMES, { message: 'outcome must be one of ignore, alert, propose, act' })
const severity = z.enum(['low', 'medium', 'high', 'critical'], { message: 'severity must be one of low, medium, high, critical' })

/** Signer roles a verb may require. `policy` is another name for `issuer` (the policy engine's key). */
export const SIGNER_ROLES = ['issuer', 'policy', 'operator'] as const
const role = z.enum(SIGNER_ROLES, { message: 'a signature role is issuer (alias policy) or operator' })

const When = z.strictObject({
  kind: z.enum(['anomaly', 'alert'], { message: 'kind must be anomaly or alert' }).optional(),
  lane: pattern.optional(),
  detector: pattern.optional(),
  metric: pattern.optional(),
  severity: severity.optional(),
  score: z.number().min(0).max(1, 'score is a minimum in [0,1]').optional(),
  source: pattern.optional(),
  subject: pattern.optional(),
  labels: z.record(z.string().min(1), pattern).optional(),
  hours: z
    .strictObject({ from: z.number().int().min(0).max(23), to: z.number().int().min(1).max(24) })
    .refine((h) => h.from !== h.to, 'hours.from and hours.to must differ (omit hours to match all day)')
    .optional(),
})

const Then = z.strictObject({
  outcome,
  verb: verb.optional(),
  target: z.string().min(1).max(256).optional(),
  args: z.record(z.string(), z.unknown()).optional(),
  severity: severity.optional(),
  labels: z.record(z.string().min(1), z.string()).optional(),
})

export const RuleSchema = z.strictObject({
  name: name('rule name'),
  description: z.string().max(1024).optional(),
  when: When.default({}),
  then: z.union([outcome.transform((o) => ({ outcome: o })), Then], { message: 'then is an outcome (ignore, alert, propose, act) or { outcome, verb, target, args }' }),
  rateLimit: z.strictObject({ max: z.number().int().min(1, 'rateLimit.max is at least 1'), per: positiveDuration }).optional(),
  suppress: duration.optional(),
})

export const PackSchema = z.strictObject({
  name: name('pack name'),
  description: z.string().max(4096).optional(),
  unmatched: z.enum(['ignore', 'alert'], { message: "unmatched must be 'ignore' (no decision) or 'alert'" }).default('ignore'),
  defaults: z.strictObject({ suppress: duration.optional(), ttl: positiveDuration.optional() }).default({}),
  verbs: z.record(verb, z.strictObject({ human: z.boolean().default(false), ttl: positiveDuration.optional(), signatures: z.array(role).default([]) })).default({}),
  forbid: z.strictObject({ verbs: z.array(pattern).default([]), targets: z.array(pattern).default([]) }).default({ verbs: [], targets: [] }),
  blastRadius: z
    .array(z.strictObject({ name: name('blast-radius limit name'), verbs: z.array(pattern).min(1).default(['*']), max: z.number().int().min(1), window: positiveDuration }))
    .default([]),
  rules: z.array(RuleSchema).min(1, 'a pack needs at least one rule'),
})

export type RawPack = z.infer<typeof PackSchema>
export type RawRule = z.infer<typeof RuleSchema>
