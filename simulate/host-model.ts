import type { EdgeFact } from '../schemas/index.js'
import type { DriftMetric } from './options.js'
import { rngOf, type Rng } from './prng.js'

/**
 * One simulated host's metrics: cpu.load per job, mem.used_pct, net.in_bytes, disk.io_ms and
 * http.req_rate, each a daily cycle (peak mid-afternoon) times a level drawn from the seed,
 * with AR(1) wander and white noise. Every tick draws the same number of random values
 * whatever the scenarios do, so a scenario changes only the series it targets.
 */

/** A cpu-runaway episode on one job (mutable: a throttle ends it early). */
export interface Episode {
  readonly source: string
  readonly job: string
  readonly startTs: number
  readonly endTs: number
  readonly peak: number
  readonly rampMs: number
  readonly halfLifeMs: number
  readonly episode: number
  /** When the runaway stops: endTs, or the time of a throttle that ended it. */
  stopTs: number
  stoppedBy: string | null
}

export interface DriftPlan {
  readonly source: string
  readonly metric: DriftMetric
  readonly startTs: number
  readonly endTs: number
  readonly rise: number
}

interface Job {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly base: number
  ar: number
  episodes: Episode[]
}

const TAU = 2 * Math.PI
const PEAK_HOUR = 14 / 24
const round = (v: number, digits: number): number => {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Runaway strength of one episode in [0, 1] at `ts`: from one half it ramps up, holds, then halves every half-life after it stops. */
export function envelope(ep: Episode, ts: number): number {
  if (ts < ep.startTs) return 0
  if (ts < ep.stopTs) return Math.min(1, 0.5 + (ts - ep.startTs) / ep.rampMs)
  const atStop = Math.min(1, 0.5 + Math.max(0, ep.stopTs - ep.startTs) / ep.rampMs)
  const v = atStop * 0.5 ** ((ts - ep.stopTs) / ep.halfLifeMs)
  return v < 0.01 ? 0 : v
}

export class HostModel {
  readonly jobs: readonly Job[]
  readonly jobNames: readonly string[]
  private readonly noise: Rng
  private readonly phase: number
  private readonly mem: { base: number; ar: number }
  private readonly http: { base: number; ar: number }
  private readonly bytesPerReq: number
  private readonly disk: { base: number }
  private drifts: DriftPlan[] = []

  constructor(
    readonly source: string,
    readonly index: number,
    seed: string | number,
    jobsPerHost: number,
    private readonly dayMs: number,
  ) {
    const p = rngOf(seed, source, 'model')
    this.noise = rngOf(seed, source, 'metric')
    this.phase = p.range(-1, 1) * (TAU / 24)
    const jobs: Job[] = []
    for (let k = 1; k <= jobsPerHost; k++) {
      const name = `batch-${(index - 1) * jobsPerHost + k}`
      jobs.push({ name, labels: Object.freeze({ job: name }), base: p.range(0.4, 0.9), ar: 0, episodes: [] })
    }
    this.jobs = jobs
    this.jobNames = Object.freeze(jobs.map((j) => j.name))
    this.mem = { base: p.range(35, 60), ar: 0 }
    this.http = { base: p.range(40, 200), ar: 0 }
    this.bytesPerReq = p.range(1500, 6000)
    this.disk = { base: p.range(1.5, 6) }
  }

  job(name: string): Job | undefined {
    return this.jobs.find((j) => j.name === name)
  }

  addEpisode(ep: Episode): void {
    this.job(ep.job)?.episodes.push(ep)
  }

  addDrift(d: DriftPlan): void {
    this.drifts.push(d)
  }

  /** The metric's normal level (what a drift's `rise` is a fraction of). */
  private level(metric: DriftMetric): number {
    switch (metric) {
      case 'mem.used_pct':
        return this.mem.base
      case 'disk.io_ms':
        return this.disk.base
      case 'http.req_rate':
        return this.http.base
      case 'net.in_bytes':
        return this.http.base * this.bytesPerReq
      default: {
        const never: never = metric
        throw new Error(`unknown drift metric ${String(never)}`)
      }
    }
  }

  private drift(metric: DriftMetric, ts: number): number {
    let add = 0
    for (const d of this.drifts) {
      if (d.metric !== metric || ts < d.startTs) continue
      const progress = Math.min(1, (ts - d.startTs) / Math.max(1, d.endTs - d.startTs))
      add += this.level(metric) * d.rise * progress
    }
    return add
  }

  /** Daily cycle in [-1, 1], peaking mid-afternoon (UTC day when dayMs is 24 h). */
  private daily(ts: number): number {
    const t = (((ts % this.dayMs) + this.dayMs) % this.dayMs) / this.dayMs
    return Math.cos(TAU * (t - PEAK_HOUR) + this.phase)
  }

  /** All metric samples of one tick, in a fixed order, appended to `out`. */
  tick(ts: number, out: EdgeFact[]): void {
    const r = this.noise
    const d = this.daily(ts)
    const source = this.source
    for (const j of this.jobs) {
      j.ar = 0.8 * j.ar + 0.6 * r.normal()
      const white = r.normal()
      const wild = r.normal()
      let v = Math.max(0.01, j.base * (1 + 0.4 * d) * (1 + 0.1 * j.ar) + 0.03 * white)
      let env = 0
      let peak = 0
      for (const ep of j.episodes) {
        const e = envelope(ep, ts)
        if (e > env) {
          env = e
          peak = ep.peak
        }
      }
      if (env > 0) v = v * (1 - env) + env * Math.max(2, peak + 0.3 * wild)
      out.push({ lane: 'metric', source, ts, name: 'cpu.load', value: round(v, 3), labels: j.labels })
    }

    this.mem.ar = 0.9 * this.mem.ar + 0.45 * r.normal()
    const mem = this.mem.base + 5 * d + 1.5 * this.mem.ar + 0.3 * r.normal() + this.drift('mem.used_pct', ts)
    out.push({ lane: 'metric', source, ts, name: 'mem.used_pct', value: round(Math.min(99.5, Math.max(1, mem)), 2), labels: {} })

    this.http.ar = 0.85 * this.http.ar + 0.5 * r.normal()
    const reqNoise = r.normal()
    const reqs = Math.max(0, this.http.base * (1 + 0.6 * d) * (1 + 0.08 * this.http.ar) + 0.5 * Math.sqrt(this.http.base) * reqNoise)
    const bytesNoise = r.normal()
    const bytes = reqs * this.bytesPerReq * (1 + 0.05 * bytesNoise) + 20_000 + this.drift('net.in_bytes', ts)
    out.push({ lane: 'metric', source, ts, name: 'net.in_bytes', value: Math.max(0, Math.round(bytes)), labels: NET_LABELS })

    const spiky = r.next()
    const spike = r.exp(this.disk.base * 4)
    const disk = this.disk.base * (1 + 0.2 * d) + Math.abs(r.normal()) * 0.3 * this.disk.base + (spiky < 0.01 ? spike : 0) + this.drift('disk.io_ms', ts)
    out.push({ lane: 'metric', source, ts, name: 'disk.io_ms', value: round(Math.max(0.05, disk), 2), labels: DISK_LABELS })

    out.push({ lane: 'metric', source, ts, name: 'http.req_rate', value: round(reqs + this.drift('http.req_rate', ts), 1), labels: {} })
  }

  /** Metric facts per tick. */
  get perTick(): number {
    return this.jobs.length + 4
  }
}

const NET_LABELS = Object.freeze({ iface: 'eth0' })
const DISK_LABELS = Object.freeze({ device: 'nvme0n1' })
