import type { EdgeFact } from '../schemas/index.js'
import { backgroundAlert, backgroundDiag, backgroundEvent } from './catalog.js'
import { HostModel } from './host-model.js'
import { parseFleetOptions, type FleetOptions, type FleetOptionsInput } from './options.js'
import { rngOf } from './prng.js'
import { resolveScenarios, truthOf, type ScenarioTruth } from './scenarios.js'
import { MetricStream, PoissonStream, ScriptQueue, StreamHeap } from './streams.js'

/** Shares of the requested rate: metrics dominate, as on a real fleet. */
export const RATE_SHARES = Object.freeze({ metric: 0.8, event: 0.18, diag: 0.02 })

/** What an executed command does to a simulated host (reported by a simulated target). */
export type FleetEffect =
  | { readonly verb: 'throttle_job'; readonly source: string; readonly at: number; readonly commandId: string; readonly job: string; readonly factor: number }
  | { readonly verb: 'set_mode'; readonly source: string; readonly at: number; readonly commandId: string; readonly mode: string }
  | { readonly verb: 'quarantine_artifact'; readonly source: string; readonly at: number; readonly commandId: string; readonly path?: string; readonly sha256?: string }

export interface Fleet {
  /** `<prefix>-1` … `<prefix>-N`, NATS-safe. */
  readonly sources: readonly string[]
  readonly startTs: number
  /** Time between two metric ticks of one host (each tick is jobsPerHost + 4 samples). */
  readonly metricIntervalMs: number
  /** Event time generated so far: every fact with ts < cursor has been returned. */
  readonly cursor: number
  /** The exact secret strings of every secret-leak scenario. */
  readonly secrets: readonly string[]
  readonly options: FleetOptions
  jobsOf(source: string): readonly string[]
  /** Every fact with cursor ≤ ts < untilTs, in time order (edge shape, DESIGN.md). */
  next(untilTs: number): EdgeFact[]
  /** The same, lazily. */
  facts(untilTs: number): Generator<EdgeFact, void, undefined>
  /**
   * Applies an executed command. A throttle ends a runaway of that job in progress at its
   * time (cpu.load decays back to normal); every effect is reported by a log event from the
   * host. Effects take hold at max(at, cursor): facts already returned never change.
   * Returns false for a host that is not in the fleet.
   */
  applyEffect(effect: FleetEffect): boolean
  effects(): readonly FleetEffect[]
  /** Ground truth of each scenario, as of now. */
  scenarios(): readonly ScenarioTruth[]
}

class FleetImpl implements Fleet {
  readonly sources: readonly string[]
  readonly startTs: number
  readonly metricIntervalMs: number
  readonly secrets: readonly string[]
  private readonly hosts = new Map<string, HostModel>()
  private readonly heap = new StreamHeap()
  private readonly script = new ScriptQueue()
  private readonly applied: FleetEffect[] = []
  private readonly truths: ReturnType<typeof resolveScenarios>['truths']
  private at: number

  constructor(readonly options: FleetOptions) {
    const o = options
    const perHost = o.rate / o.hosts
    this.startTs = o.startTs
    this.at = o.startTs
    this.metricIntervalMs = Math.max(1, Math.round(((o.jobsPerHost + 4) * 1000) / (RATE_SHARES.metric * perHost)))
    const sources: string[] = []
    for (let i = 1; i <= o.hosts; i++) {
      const source = `${o.prefix}-${i}`
      sources.push(source)
      this.hosts.set(source, new HostModel(source, i, o.seed, o.jobsPerHost, o.dayMs))
    }
    this.sources = Object.freeze(sources)

    const resolved = resolveScenarios(o, this.hosts, this.metricIntervalMs)
    for (const f of resolved.scripted) this.script.insert(f)
    this.truths = resolved.truths
    this.secrets = Object.freeze(resolved.truths.flatMap((t) => ('secrets' in t && t.secrets ? t.secrets : [])))

    let order = 0
    for (const [source, host] of this.hosts) {
      const info = { source, jobs: host.jobNames }
      // Ticks of different hosts are spread over the interval, not all at one instant.
      const first = o.startTs + Math.floor(((host.index - 1) * this.metricIntervalMs) / o.hosts)
      this.heap.push(new MetricStream(order++, host, rngOf(o.seed, source, 'tick'), this.metricIntervalMs, first))
      this.heap.push(new PoissonStream(order++, info, rngOf(o.seed, source, 'event'), 1000 / (RATE_SHARES.event * perHost), o.startTs, backgroundEvent))
      this.heap.push(new PoissonStream(order++, info, rngOf(o.seed, source, 'diag'), 1000 / (RATE_SHARES.diag * perHost), o.startTs, backgroundDiag))
      this.heap.push(new PoissonStream(order++, info, rngOf(o.seed, source, 'alert'), o.alertEveryMs, o.startTs, backgroundAlert))
    }
  }

  get cursor(): number {
    return this.at
  }

  jobsOf(source: string): readonly string[] {
    return this.hosts.get(source)?.jobNames ?? []
  }

  next(untilTs: number): EdgeFact[] {
    const out: EdgeFact[] = []
    for (const f of this.facts(untilTs)) out.push(f)
    return out
  }

  *facts(untilTs: number): Generator<EdgeFact, void, undefined> {
    const buf: EdgeFact[] = []
    for (;;) {
      const s = this.heap.peek()
      const streamTs = s ? s.nextTs : Infinity
      const scriptTs = this.script.nextTs
      // Equal times: the host's own streams first, then scripted lines.
      if (scriptTs < streamTs) {
        if (scriptTs >= untilTs) break
        yield this.script.shift()
        continue
      }
      if (!s || streamTs >= untilTs) break
      buf.length = 0
      s.emit(buf)
      this.heap.siftTop()
      for (const f of buf) yield f
    }
    if (untilTs > this.at) this.at = untilTs
  }

  applyEffect(effect: FleetEffect): boolean {
    const host = this.hosts.get(effect.source)
    if (!host) return false
    const ts = Math.max(effect.at, this.at)
    this.applied.push(effect)
    const report = (type: string, message: string, attrs: Record<string, string>): void =>
      this.script.insert({ lane: 'event', source: effect.source, ts, type, message, attrs: { ...attrs, command: effect.commandId } })
    switch (effect.verb) {
      case 'throttle_job': {
        const job = host.job(effect.job)
        let ended = 0
        for (const ep of job?.episodes ?? []) {
          if (ep.startTs <= ts && ts < ep.stopTs) {
            ep.stopTs = ts
            ep.stoppedBy = effect.commandId
            ended++
          }
        }
        const pct = Math.round(effect.factor * 100)
        report('job.throttled', `job ${effect.job} throttled to ${pct}% CPU share${ended ? '; runaway contained' : ''}`, { job: effect.job, factor: String(effect.factor) })
        return true
      }
      case 'set_mode':
        report('agent.mode', `operating mode set to ${effect.mode}`, { mode: effect.mode })
        return true
      case 'quarantine_artifact': {
        const what = effect.path ?? effect.sha256 ?? '(unnamed)'
        const attrs: Record<string, string> = {}
        if (effect.path !== undefined) attrs.path = effect.path
        if (effect.sha256 !== undefined) attrs.sha256 = effect.sha256
        report('artifact.quarantined', `moved ${what} to quarantine`, attrs)
        return true
      }
      default: {
        const never: never = effect
        throw new Error(`unknown effect ${JSON.stringify(never)}`)
      }
    }
  }

  effects(): readonly FleetEffect[] {
    return [...this.applied]
  }

  scenarios(): readonly ScenarioTruth[] {
    return this.truths.map(truthOf)
  }
}

/**
 * A simulated fleet: deterministic from `seed` (same options and same calls → the same facts,
 * byte for byte). It never reads a clock: time comes from `startTs` and the `untilTs` the
 * caller passes. Throws SimulateError (code sim_bad_options) for invalid options.
 */
export function createFleet(input: FleetOptionsInput): Fleet {
  const p = parseFleetOptions(input)
  if (!p.ok) throw p.error
  return new FleetImpl(Object.freeze({ ...p.value, scenarios: Object.freeze([...p.value.scenarios]) as FleetOptions['scenarios'] }))
}

/** All facts of a fleet from its start until `untilTs` (tests, offline files). */
export function generate(input: FleetOptionsInput, untilTs: number): { fleet: Fleet; facts: EdgeFact[] } {
  const fleet = createFleet(input)
  return { fleet, facts: fleet.next(untilTs) }
}
