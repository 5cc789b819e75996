import type { EdgeFact } from '../schemas/index.js'
import { SimulateError, SimulateErrorCode } from './errors.js'
import type { DriftPlan, Episode, HostModel } from './host-model.js'
import { SECRET_KINDS, type FleetOptions, type ScenarioKind, type ScenarioSpec } from './options.js'
import { rngOf } from './prng.js'
import { leakLine } from './secrets.js'

/** What a scenario did, for tests: the ground truth to look for downstream. */
export interface ScenarioTruth {
  readonly kind: ScenarioKind
  readonly source: string
  /** cpu-runaway: the job whose cpu.load runs away. */
  readonly job?: string
  /** drift: the metric that drifts; cpu-runaway: `cpu.load`. */
  readonly metric?: string
  readonly startTs: number
  /** Planned end (cpu-runaway, drift) or the time of the last fact (secret-leak). */
  readonly endTs: number
  /** secret-leak: the exact secret strings written into the raw facts. */
  readonly secrets?: readonly string[]
  /** secret-leak: the file the secrets were written to, and the edge alert's rule. */
  readonly artifact?: string
  readonly rule?: string
  /** cpu-runaway: 1 for the runaway, 2 for its repeat. */
  readonly episode?: number
  /** cpu-runaway ended early by an executed command: when, and which command. */
  readonly stoppedAt?: number
  readonly stoppedBy?: string
}

export interface ResolvedScenarios {
  readonly episodes: readonly Episode[]
  readonly drifts: readonly DriftPlan[]
  /** One-off facts (leaked log lines, the DLP alert), sorted by ts. */
  readonly scripted: readonly EdgeFact[]
  /** In spec order; episodes are read live so a throttle shows up in the truth. */
  readonly truths: ReadonlyArray<ScenarioTruth | Episode>
}

/** Samples a series needs before the detectors may flag it (detect's default warm-up is 100). */
export const WARM_SAMPLES = 150

const bad = (i: number, message: string): SimulateError => new SimulateError(SimulateErrorCode.BadOptions, `scenarios[${i}]: ${message}`)

/**
 * Turns scenario specs into plans. Anything a spec leaves open (host, job, times, peak) is
 * drawn from the seed or placed from the planned run length: with `durationMs` a runaway
 * starts at 40 % of the run and lasts 25 %, a leak happens at 50 %, a drift runs from 20 % to
 * 80 %; without it, scenarios start after WARM_SAMPLES metric samples.
 */
export function resolveScenarios(o: FleetOptions, hosts: ReadonlyMap<string, HostModel>, intervalMs: number): ResolvedScenarios {
  const episodes: Episode[] = []
  const drifts: DriftPlan[] = []
  const scripted: EdgeFact[] = []
  const truths: Array<ScenarioTruth | Episode> = []
  const sources = [...hosts.keys()]
  const D = o.durationMs
  const warm = WARM_SAMPLES * intervalMs
  const at = (spec: { atMs?: number }, share: number): number => o.startTs + (spec.atMs ?? (D !== undefined ? Math.round(share * D) : warm))

  o.scenarios.forEach((spec: ScenarioSpec, i) => {
    const rng = rngOf(o.seed, 'scenario', i, spec.kind)
    const source = spec.host ?? rng.pick(sources)
    const host = hosts.get(source)
    if (!host) throw bad(i, `host '${source}' is not in the fleet (${sources[0]} … ${sources[sources.length - 1]})`)
    switch (spec.kind) {
      case 'cpu-runaway': {
        const job = spec.job ?? rng.pick(host.jobNames)
        if (!host.job(job)) throw bad(i, `job '${job}' does not run on ${source} (jobs: ${host.jobNames.join(', ')})`)
        const startTs = at(spec, 0.4)
        const duration = spec.durationMs ?? (D !== undefined ? Math.max(10 * intervalMs, Math.round(0.25 * D)) : 60 * intervalMs)
        const peak = spec.peak ?? rng.range(8, 10)
        const starts = spec.repeat ? [startTs, startTs + spec.repeat.afterMs] : [startTs]
        starts.forEach((s, k) => {
          const ep: Episode = {
            source,
            job,
            startTs: s,
            endTs: s + duration,
            peak,
            rampMs: 2 * intervalMs,
            halfLifeMs: Math.max(500, intervalMs),
            episode: k + 1,
            stopTs: s + duration,
            stoppedBy: null,
          }
          episodes.push(ep)
          host.addEpisode(ep)
          truths.push(ep)
        })
        return
      }
      case 'drift': {
        const metric = spec.metric ?? 'mem.used_pct'
        const startTs = at(spec, 0.2)
        const duration = spec.durationMs ?? (D !== undefined ? Math.round(0.6 * D) : 300 * intervalMs)
        const plan: DriftPlan = { source, metric, startTs, endTs: startTs + duration, rise: spec.rise ?? 0.6 }
        drifts.push(plan)
        host.addDrift(plan)
        truths.push({ kind: 'drift', source, metric, startTs, endTs: plan.endTs })
        return
      }
      case 'secret-leak': {
        const artifact = spec.artifact ?? '/var/log/app.log'
        const rule = spec.rule ?? 'dlp.secret'
        const startTs = at(spec, 0.5)
        const secrets: string[] = []
        const findings: string[] = []
        let ts = startTs
        for (const kind of spec.secrets ?? SECRET_KINDS) {
          const line = leakLine(kind, rng, artifact, ts)
          scripted.push({ lane: 'event', source, ts, type: line.type, message: line.message, attrs: { ...line.attrs } })
          secrets.push(...line.secrets)
          findings.push(line.finding)
          ts += rng.int(20, 80)
        }
        const alertTs = ts + rng.int(150, 400)
        scripted.push({
          lane: 'alert',
          source,
          ts: alertTs,
          rule,
          severity: 'high',
          message: `secret material written to ${artifact}: ${findings.join(', ')}`,
          attrs: { artifact, path: artifact, findings: findings.join(','), count: String(findings.length) },
        })
        truths.push({ kind: 'secret-leak', source, startTs, endTs: alertTs, secrets: Object.freeze(secrets), artifact, rule })
        return
      }
      default: {
        const never: never = spec
        throw bad(i, `unknown scenario ${JSON.stringify(never)}`)
      }
    }
  })
  scripted.sort((a, b) => a.ts - b.ts)
  return { episodes, drifts, scripted, truths }
}

const isEpisode = (t: ScenarioTruth | Episode): t is Episode => 'rampMs' in t

/** The truth as of now: a runaway's `stoppedAt` appears once a command ended it. */
export function truthOf(t: ScenarioTruth | Episode): ScenarioTruth {
  if (!isEpisode(t)) return t
  const base = { kind: 'cpu-runaway' as const, source: t.source, job: t.job, metric: 'cpu.load', startTs: t.startTs, endTs: t.endTs, episode: t.episode }
  return t.stoppedBy === null ? base : { ...base, stoppedAt: t.stopTs, stoppedBy: t.stoppedBy }
}
