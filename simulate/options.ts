import { z } from 'zod'
import { describeIssues, isToken, type Result } from '../schemas/index.js'
import { SimulateError, SimulateErrorCode } from './errors.js'

/** Scenario names accepted by `ben simulate --scenario`. */
export const SCENARIO_KINDS = ['cpu-runaway', 'secret-leak', 'drift'] as const
export type ScenarioKind = (typeof SCENARIO_KINDS)[number]

/** Kinds of secret the secret-leak scenario writes into log lines. */
export const SECRET_KINDS = ['aws', 'jwt', 'pem', 'card'] as const
export type SecretKind = (typeof SECRET_KINDS)[number]

/** Host metrics a drift can bend (cpu.load is per job and is the runaway's). */
export const DRIFT_METRICS = ['mem.used_pct', 'disk.io_ms', 'http.req_rate', 'net.in_bytes'] as const
export type DriftMetric = (typeof DRIFT_METRICS)[number]

const ms = (what: string) => z.number().int(`${what} must be whole milliseconds`).nonnegative(`${what} cannot be negative`)
const positiveMs = (what: string) => z.number().int(`${what} must be whole milliseconds`).positive(`${what} must be above 0`)
const host = z.string().refine(isToken, 'host must be a NATS subject token, e.g. web-3').optional()

/** Times are offsets from the fleet's `startTs`; when absent they are placed from `durationMs` (see README). */
export const CpuRunawaySpec = z.strictObject({
  kind: z.literal('cpu-runaway'),
  host,
  job: z.string().min(1).optional(),
  atMs: ms('atMs').optional(),
  durationMs: positiveMs('durationMs').optional(),
  /** Sustained cpu.load while running away (default: from the seed, 8-10). */
  peak: z.number().gt(2, 'peak must be above 2 to stand out from a normal load of 0.2-1.5').max(1000).optional(),
  /** A second, identical runaway `afterMs` after the first one's start. */
  repeat: z.strictObject({ afterMs: positiveMs('repeat.afterMs') }).optional(),
})
export const SecretLeakSpec = z.strictObject({
  kind: z.literal('secret-leak'),
  host,
  atMs: ms('atMs').optional(),
  secrets: z.array(z.enum(SECRET_KINDS)).min(1, 'name at least one secret kind: aws, jwt, pem, card').optional(),
  artifact: z.string().min(1).max(4096).optional(),
  /** The edge alert's rule name (default `dlp.secret`). */
  rule: z.string().min(1).max(256).optional(),
})
export const DriftSpec = z.strictObject({
  kind: z.literal('drift'),
  host,
  atMs: ms('atMs').optional(),
  durationMs: positiveMs('durationMs').optional(),
  metric: z.enum(DRIFT_METRICS).optional(),
  /** How far the metric rises by the end of the window, as a fraction of its normal level (default 0.6). */
  rise: z.number().gt(0).max(100).optional(),
})
export const ScenarioSpec = z.discriminatedUnion('kind', [CpuRunawaySpec, SecretLeakSpec, DriftSpec])
export type ScenarioSpec = z.infer<typeof ScenarioSpec>

export const FleetOptions = z.strictObject({
  /** Number of hosts, named `<prefix>-1` … `<prefix>-N`. */
  hosts: z.number().int('hosts must be a whole number').min(1, 'hosts must be at least 1').max(10_000),
  seed: z.union([z.number().int(), z.string().min(1)]),
  /** Event time of the first fact, epoch ms (the caller's clock: the core never reads one). */
  startTs: z.number().int('startTs must be epoch milliseconds').nonnegative().max(8.64e15),
  /** Facts per second across the fleet (metrics ~80 %, events ~18 %, diagnostics ~2 %). */
  rate: z.number().gt(0, 'rate must be above 0 facts per second').max(1_000_000),
  scenarios: z.array(ScenarioSpec).default([]),
  jobsPerHost: z.number().int().min(1).max(64).default(3),
  /** Period of the daily pattern (default 24 h; tests compress a day into minutes). */
  dayMs: positiveMs('dayMs').default(86_400_000),
  /** Planned run length: places scenarios whose `atMs`/`durationMs` are not given. */
  durationMs: positiveMs('durationMs').optional(),
  /** Mean time between background (low severity) edge alerts, per host (default 30 min). */
  alertEveryMs: positiveMs('alertEveryMs').default(1_800_000),
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'prefix must be lowercase letters, digits and dashes')
    .default('web'),
})
export type FleetOptionsInput = z.input<typeof FleetOptions>
export type FleetOptions = z.output<typeof FleetOptions>

/** Validates fleet options (CLI flags, a JSON file): an error names the field and the rule. */
export function parseFleetOptions(input: unknown): Result<FleetOptions, SimulateError> {
  const p = FleetOptions.safeParse(input)
  if (!p.success) return { ok: false, error: new SimulateError(SimulateErrorCode.BadOptions, `simulate options: ${describeIssues(p.error)}`) }
  return { ok: true, value: p.data }
}

/** `--scenario cpu-runaway` → the spec with every detail left to the defaults. */
export function scenarioByName(name: string): Result<ScenarioSpec, SimulateError> {
  if (!(SCENARIO_KINDS as readonly string[]).includes(name)) {
    return { ok: false, error: new SimulateError(SimulateErrorCode.BadOptions, `unknown scenario '${name}': use one of ${SCENARIO_KINDS.join(', ')}`) }
  }
  return { ok: true, value: { kind: name as ScenarioKind } }
}
