import { z } from 'zod'

/**
 * The detector config file (YAML or JSON), as validated by zod at load. Every detector field is
 * optional: what a file leaves out comes from `BUILTIN_DEFAULTS` (defaults.ts), then from the
 * file's top-level `detectors`/`ensemble`, then from the first rule matching the series.
 */

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A duration: milliseconds as a number, or a string like `500ms`, `30s`, `5m`, `1h`, `1d`, `1w`. */
export const Duration = z.union([
  z.number().positive('must be a positive number of milliseconds'),
  z
    .string()
    .regex(DURATION_RE, "must be a duration like '5m', '1h' or '1d' (units ms, s, m, h, d, w)")
    .transform((s) => {
      const m = DURATION_RE.exec(s) as RegExpExecArray
      return Number(m[1]) * (UNIT_MS[m[2]] as number)
    }),
])

const frac = (what: string) => z.number().gt(0, `${what} must be > 0`).max(1, `${what} must be <= 1`)
const pos = z.number().positive()
const nonneg = z.number().nonnegative()
const count = z.number().int('must be a whole number').nonnegative()
const common = { enabled: z.boolean().optional(), weight: nonneg.optional() }
const floors = { minSpread: nonneg.optional(), relSpread: nonneg.optional() }

export const EwmaSpec = z.object({ ...common, ...floors, alpha: frac('alpha').optional(), threshold: pos.optional(), warmup: count.optional() }).strict()
export const CusumSpec = z
  .object({ ...common, ...floors, alpha: frac('alpha').optional(), k: nonneg.optional(), h: pos.optional(), clip: pos.optional(), warmup: count.optional() })
  .strict()
export const MadSpec = z.object({ ...common, ...floors, window: count.min(3).max(100_000).optional(), threshold: pos.optional(), warmup: count.optional() }).strict()
export const SeasonalSpec = z
  .object({
    ...common,
    ...floors,
    period: Duration.optional(),
    slots: count.min(1).max(100_000).optional(),
    alpha: frac('alpha').optional(),
    gamma: frac('gamma').optional(),
    beta: frac('beta').optional(),
    threshold: pos.optional(),
    minSeasons: nonneg.optional(),
  })
  .strict()
export const ShiftSpec = z
  .object({
    ...common,
    ...floors,
    alpha: frac('alpha').optional(),
    threshold: pos.optional(),
    confirm: count.min(1, 'confirm must be at least 1 point').max(64).optional(),
    extreme: nonneg.optional(),
    settle: nonneg.optional(),
    warmup: count.optional(),
  })
  .strict()
export const SpikeSpec = z
  .object({
    ...common,
    ...floors,
    alpha: frac('alpha').optional(),
    threshold: pos.optional(),
    critical: pos.optional(),
    notable: pos.optional(),
    learn: count.min(1, 'learn must be at least 1 spike').optional(),
    ratio: z.number().min(1, 'ratio compares with the largest remembered spike: must be >= 1').optional(),
    halfLife: count.min(1).optional(),
    warmup: count.optional(),
  })
  .strict()
export const RangeSpec = z
  .object({
    ...common,
    threshold: pos.optional(),
    halfLife: count.min(1).optional(),
    alpha: frac('alpha').optional(),
    warmup: count.optional(),
    minZ: nonneg.optional(),
    minAge: Duration.optional(),
  })
  .strict()
export const FlatSpec = z
  .object({
    ...common,
    threshold: pos.optional(),
    minRun: count.min(1).optional(),
    halfLife: count.min(1).optional(),
    warmup: count.optional(),
  })
  .strict()
export const LevelSpec = z
  .object({
    ...common,
    window: count.min(2).max(100_000).optional(),
    threshold: pos.optional(),
    halfLife: count.min(1).optional(),
    alpha: frac('alpha').optional(),
    warmup: count.optional(),
    minZ: nonneg.optional(),
    minAge: Duration.optional(),
  })
  .strict()
export const DriftSpec = z
  .object({
    ...common,
    window: count.min(8).max(100_000).optional(),
    bins: count.min(2).max(1024).optional(),
    threshold: pos.optional(),
    every: count.min(1).optional(),
    boost: z.number().min(1, 'boost multiplies thresholds: must be >= 1').optional(),
    halfLife: count.min(1).optional(),
  })
  .strict()

export const DetectorsSpec = z
  .object({
    ewma: EwmaSpec.optional(),
    cusum: CusumSpec.optional(),
    mad: MadSpec.optional(),
    seasonal: SeasonalSpec.optional(),
    shift: ShiftSpec.optional(),
    spike: SpikeSpec.optional(),
    range: RangeSpec.optional(),
    flat: FlatSpec.optional(),
    level: LevelSpec.optional(),
    drift: DriftSpec.optional(),
  })
  .strict()

export const SeveritySpec = z
  .object({ medium: frac('severity.medium').optional(), high: frac('severity.high').optional(), critical: frac('severity.critical').optional() })
  .strict()

export const EnsembleSpec = z
  .object({
    combine: z.enum(['max', 'mean', 'noisy_or']).optional(),
    threshold: frac('threshold').optional(),
    warmup: count.optional(),
    refractory: count.optional(),
    refractoryDamp: z.number().min(0).max(1).optional(),
    calibrate: nonneg.optional(),
    calibrateHalfLife: count.min(1).optional(),
    severity: SeveritySpec.optional(),
  })
  .strict()

const pattern = z.string().min(1).max(512)
export const MatchSpec = z.object({ source: pattern.optional(), metric: pattern.optional() }).strict()

export const RuleSpec = z
  .object({
    name: z.string().min(1).max(128).optional(),
    match: MatchSpec,
    /** false: series matching this rule are not monitored at all. */
    enabled: z.boolean().optional(),
    ensemble: EnsembleSpec.optional(),
    detectors: DetectorsSpec.optional(),
  })
  .strict()

export const PcaSpec = z
  .object({
    components: count.min(1).optional(),
    alpha: frac('alpha').optional(),
    eta: frac('eta').optional(),
    threshold: pos.optional(),
    warmup: count.optional(),
  })
  .strict()

export const GroupSpec = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'must use letters, digits, _ . : - only'),
    match: z.object({ source: pattern.optional() }).strict().optional(),
    metrics: z.array(z.string().min(1).max(256)).min(2, 'a group needs at least 2 metrics').max(64),
    pca: PcaSpec.optional(),
    ensemble: z
      .object({ threshold: frac('threshold').optional(), severity: SeveritySpec.optional() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((g) => new Set(g.metrics).size === g.metrics.length, { message: 'metrics must not repeat', path: ['metrics'] })

export const LimitsSpec = z
  .object({
    /** Series kept in stage state; past it the least recently updated (by event time) are evicted. */
    maxSeries: count.min(1).optional(),
    maxGroups: count.min(1).optional(),
    /** How far behind a series' latest ts a point may be and still be scored (ms). */
    maxLateness: z.union([z.literal(0), Duration]).optional(),
    /** Series one source may have; a point of a new series past it is refused (`cardinality_limit`, to the DLQ). */
    maxSeriesPerSource: count.min(1).optional(),
    /** A source at its limit first drops its series idle this long (by the event time of the new point); 0: never. */
    idleAfter: z.union([z.literal(0), Duration]).optional(),
  })
  .strict()

export const DetectorConfigSpec = z
  .object({
    version: z.literal(1, { message: 'version must be 1' }).optional(),
    ensemble: EnsembleSpec.optional(),
    detectors: DetectorsSpec.optional(),
    rules: z.array(RuleSpec).max(10_000).optional(),
    groups: z.array(GroupSpec).max(1_000).optional(),
    limits: LimitsSpec.optional(),
  })
  .strict()

export type DetectorConfigSpec = z.infer<typeof DetectorConfigSpec>
export type DetectorsSpec = z.infer<typeof DetectorsSpec>
export type EnsembleSpec = z.infer<typeof EnsembleSpec>
export type RuleSpec = z.infer<typeof RuleSpec>
export type GroupSpec = z.infer<typeof GroupSpec>
