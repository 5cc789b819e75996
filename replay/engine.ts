import { headers as natsHeaders } from '@nats-io/nats-core'
import { decodeMessage, streamName, bySeq, EMPTY_READER, mergeReaders, openStreamReader, type Item, type Reader } from '../streams/index.js'
import {
  derivedId,
  FactCodec,
  Header,
  RAW_KINDS,
  type AlertFact,
  type AnomalyFact,
  type CommandFact,
  type DecisionFact,
  type Fact,
  type IncidentFact,
  type MetricFact,
  type RawFact,
} from '../schemas/index.js'
import { ACT_STAGE, ACT_VERSION } from '../keys/index.js'
import { Comparator } from './compare.js'
import type { ActConfigs, ConfigHistory } from './configs.js'
import { Control } from './control.js'
import { peekIdTs } from './peek.js'
import { Telemetry } from './telemetry.js'
import { replayWorkers, TelemetryPool } from './parallel.js'
import type { ReplayDeps } from './types.js'
import { scrubbedMetrics } from '../projections/index.js'
import type { CompiledManifest } from '../processors/scrub/index.js'
import type { DetectorConfig } from '../processors/detect/index.js'
import type { CompiledPack } from '../processors/policy/index.js'
import type { IncidentConfig } from '../processors/incident/index.js'

/** Facts may be stamped a little ahead of the clock that stored them: start reading this much earlier. */
const SKEW_MS = 5 * 60_000
/** Past this many sources, read whole subjects and filter here instead of one consumer per source. */
const MAX_FILTERS = 16

export interface EnginePlan {
  readonly from: number
  readonly to: number
  /** Facts older than this are not replayed at all (−Infinity: everything retained). */
  readonly lookbackStart: number
  /** null: every source. */
  readonly sources: ReadonlySet<string> | null
  readonly readFrom: 'jetstream' | 'clickhouse'
  /** Keep the rebuilt non-telemetry facts in scope (for the narrative). */
  readonly collect: boolean
}

export interface EngineConfigs {
  readonly scrub: ConfigHistory<CompiledManifest>
  readonly detect: ConfigHistory<DetectorConfig>
  readonly policy: ConfigHistory<CompiledPack>
  readonly incident: ConfigHistory<IncidentConfig>
  /** Absent without the issuer key: recorded commands stand in for rebuilt ones. */
  readonly act?: ActConfigs
}

export interface EngineOptions {
  onProgress?(read: number, total: number): void
  /** Worker threads for scrub/detect/compare (0: this thread only; default: see replayWorkers). */
  readonly workers?: number
  readonly publishRun?: string
  readonly maxDiffs?: number
}

export interface EngineOutcome {
  readonly compare: Comparator
  readonly telemetry: Telemetry
  readonly control: Control
  readonly inputFacts: number
  readonly recordedFacts: number
  readonly elapsedMs: number
  readonly incidents: Map<string, IncidentFact>
  readonly collected: Fact[]
}

/**
 * One replay pass. Three readers go by in step: the raw side (FACTS, or ClickHouse's scrubbed
 * metrics), DERIVED (scrubbed facts in scope, every alert, anomaly, decision, incident) and
 * COMMANDS (commands, acks). A raw item is taken before a DERIVED item stored after it (by store
 * time; by DERIVED sequence for ClickHouse rows), so a rebuilt fact exists by the time its
 * recorded twin — or the recorded output that reveals its processing order — goes by. Memory
 * is the readers' buffers plus the live pipeline's lag, not the window.
 */
export async function runEngine(deps: ReplayDeps, plan: EnginePlan, cfg: EngineConfigs, opts: EngineOptions = {}): Promise<EngineOutcome> {
  const t0 = performance.now()
  const codec = deps.codec ?? new FactCodec()
  const sub = deps.subjects
  const p = sub.prefix
  const topo = { streamPrefix: deps.streamPrefix }
  const inScope = (source: string) => plan.sources === null || plan.sources.has(source)
  const inWindow = (f: Fact) => f.ts >= plan.from && f.ts <= plan.to && inScope(f.source)
  const many = plan.sources === null || plan.sources.size > MAX_FILTERS
  const list = plan.sources ? [...plan.sources] : []
  const start = Number.isFinite(plan.lookbackStart) ? { time: plan.lookbackStart - SKEW_MS } : {}
  const open = (stream: 'FACTS' | 'DERIVED' | 'COMMANDS', filters: string[]) =>
    Promise.all(filters.map((f) => openStreamReader(deps.nc, streamName(topo, stream), f, start))).then((rs) => mergeReaders(rs, bySeq))
  const jet = plan.readFrom === 'jetstream'
  const raw: Reader = jet ? await open('FACTS', many ? [sub.factsAll] : list.map((s) => `${p}.fact.*.${s}`)) : EMPTY_READER
  const derivedFilters = [
    ...(jet ? (many ? [sub.scrubbedAll] : [...list.map((s) => `${p}.scrubbed.*.${s}`), `${p}.scrubbed.alert.>`]) : [`${p}.scrubbed.alert.>`]),
    sub.anomalyAll,
    sub.decisionAll,
    sub.incidentAll,
  ]
  const derived = await open('DERIVED', derivedFilters)
  const commands = mergeReaders([await open('COMMANDS', [sub.cmdAll]), await open('COMMANDS', [sub.ackAll])], bySeq)
  const ch = jet
    ? undefined
    : scrubbedMetrics(deps.warehouse, codec, { derivedStream: streamName(topo, 'DERIVED'), sources: plan.sources ? list : null, sinceTs: plan.lookbackStart })
  const total = raw.total + derived.total + commands.total
  let read = 0
  let inputFacts = 0
  let recordedFacts = 0
  // The telemetry layer runs on worker threads (sources split between them) when the raw side
  // is FACTS, nothing is published and scrub/detect configs come from KV (a what-if override of
  // those is compiled here only): see TelemetryPool.
  const nWorkers = jet && !opts.publishRun && !cfg.scrub.overridden && !cfg.detect.overridden ? replayWorkers(opts.workers, raw.total) : 0
  let pos = 0
  let curPos = 0
  let readNowMs = 0
  const compare = new Comparator({ codec, inWindow, maxDiffs: opts.maxDiffs, at: nWorkers > 0 ? () => curPos : undefined })
  const incidents = new Map<string, IncidentFact>()
  const collected: Fact[] = []
  const collect = (f: Fact) => {
    if (plan.collect && inWindow(f)) collected.push(f)
  }
  const publish = opts.publishRun ? publisher(deps, codec, opts.publishRun) : undefined
  const rebuilt = (f: Fact) => {
    compare.rebuilt(f)
    publish?.(f)
  }

  let nowMs = 0
  const control = new Control(
    cfg.policy,
    cfg.act,
    cfg.incident,
    {
      decision: (d) => inScope(d.source) && (rebuilt(d), collect(d)),
      command: (c) => inScope(c.source) && (rebuilt(c), collect(c)),
      incident: (i) => {
        if (!inScope(i.source)) return
        rebuilt(i)
        collect(i)
        if (inWindow(i)) incidents.set(i.payload.incidentId, i)
      },
    },
    () => cfg.policy.revisionAt(nowMs),
  )
  const rebuiltAlert = (s: AlertFact) => {
    control.rebuiltInput(s)
    collect(s)
  }
  const rebuiltAnomaly = (a: AnomalyFact) => {
    rebuilt(a)
    collect(a)
    control.rebuiltInput(a)
  }
  const telemetry = new Telemetry(cfg.scrub, cfg.detect, {
    scrubbed: (s) => {
      rebuilt(s)
      if (s.kind === 'alert') rebuiltAlert(s as AlertFact)
    },
    anomaly: rebuiltAnomaly,
  })
  // Applies, in read order, what the workers derived and the control steps deferred meanwhile.
  const pool =
    nWorkers > 0
      ? TelemetryPool.start(
          nWorkers,
          {
            prefix: p,
            scrub: cfg.scrub.revisions(),
            detect: cfg.detect.revisions(),
            from: plan.from,
            to: plan.to,
            sources: plan.sources ? list : null,
            lookbackStart: plan.lookbackStart,
            maxDiffs: opts.maxDiffs,
          },
          (at, what) => {
            curPos = at
            if (typeof what === 'function') return what()
            nowMs = what.nowMs
            if (what.fact.kind === 'alert') rebuiltAlert(what.fact as AlertFact)
            else rebuiltAnomaly(what.fact as AnomalyFact)
          },
        )
      : undefined

  const tick = () => {
    if (++read % 5000 === 0) opts.onProgress?.(read, total)
  }

  const decode = (i: Item): Fact | undefined => {
    const d = codec.decode(i.data, i.headers?.get(Header.SchemaFp))
    return d.ok ? d.value : undefined
  }
  const fp = (i: Item) => () => i.headers?.get(Header.SchemaFp) ?? ''

  const onRaw = (i: Item) => {
    const src = i.subject.slice(i.subject.lastIndexOf('.') + 1)
    if (!inScope(src)) return
    const d = decodeMessage(codec, sub, i.subject, i.headers, i.data, i.timeNs / 1e6)
    if (!d.ok || d.value.ts < plan.lookbackStart) return
    inputFacts++
    telemetry.raw(d.value as RawFact, i.timeNs / 1e6)
  }

  /** A DERIVED item; `routed`: a scrubbed fact whose compare a worker does (only the control step is left). */
  const onDerived = (i: Item, routed = false) => {
    recordedFacts++
    nowMs = i.timeNs / 1e6
    const parts = i.subject.slice(p.length + 1).split('.')
    const area = parts[0]
    const source = parts[parts.length - 1]
    const peek = peekIdTs(i.data)
    if (!peek || peek.ts < plan.lookbackStart) return
    const scope = inScope(source)
    if (area === 'scrubbed') {
      const kind = parts[1]
      if (jet && scope) {
        if (!routed) compare.recorded({ id: peek.id, data: i.data, fingerprint: fp(i) })
        if (kind === 'alert') control.announce(peek.id, 'alert')
      } else if (kind === 'alert') {
        const f = decode(i)
        if (f) {
          control.recordedInput(f as AlertFact)
          if (scope) collect(f)
        }
      }
      return
    }
    if (area === 'anomaly') {
      if (scope) {
        compare.recorded({ id: peek.id, data: i.data, fingerprint: fp(i) })
        control.announce(peek.id, 'anomaly')
      } else {
        const f = decode(i)
        if (f) control.recordedInput(f as AnomalyFact)
      }
      return
    }
    const f = decode(i)
    if (!f) return
    if (scope) compare.recorded({ id: f.id, data: i.data, fingerprint: fp(i), fact: f })
    if (f.kind === 'decision') control.decided(f.lineage[0] ?? '', (f.config as Record<string, number>)['ben-policy'] ?? (f as DecisionFact).payload.packRevision)
    else if (f.kind === 'incident') control.incident(f.lineage[0] ?? '', (f.config as Record<string, number>)['ben-incidents'] ?? 0)
  }

  const onCommand = (i: Item) => {
    recordedFacts++
    nowMs = i.timeNs / 1e6
    const f = decode(i)
    if (!f || f.ts < plan.lookbackStart) return
    if (f.kind === 'command' && control.acting && isActCommand(f as CommandFact)) {
      if (inScope(f.source)) compare.recorded({ id: f.id, data: i.data, fingerprint: fp(i), fact: f })
      return
    }
    control.recordedOther(f)
    if (inScope(f.source)) collect(f)
  }

  // With workers: raw facts and the recorded scrubbed facts in scope go to the worker owning
  // their source; every other step is deferred with its read position (TelemetryPool.merge).
  const rawToPool = (pool: TelemetryPool, i: Item) => {
    const src = i.subject.slice(i.subject.lastIndexOf('.') + 1)
    if (inScope(src)) pool.raw(pos, i, src, readNowMs)
  }
  const derivedToPool = (pool: TelemetryPool, i: Item) => {
    readNowMs = i.timeNs / 1e6
    const scrubbed = `${p}.scrubbed.`
    if (i.subject.startsWith(scrubbed)) {
      const source = i.subject.slice(i.subject.lastIndexOf('.') + 1)
      if (inScope(source)) {
        pool.recorded(pos, i, source)
        if (i.subject.startsWith('alert.', scrubbed.length)) pool.defer(pos, () => onDerived(i, true))
        else recordedFacts++
        return
      }
    }
    pool.defer(pos, () => onDerived(i))
  }
  const commandToPool = (pool: TelemetryPool, i: Item) => {
    readNowMs = i.timeNs / 1e6
    pool.defer(pos, () => onCommand(i))
  }

  try {
    for (;;) {
      if (pool?.step()) await pool.settle()
      const row = ch ? ch.peek() : undefined
      if (row === null) {
        await ch!.ready()
        continue
      }
      const d = derived.peek()
      if (d === null) {
        await derived.ready()
        continue
      }
      if (row && (!d || row.seq < d.seq)) {
        ch!.take()
        inputFacts++
        if (row.fact.kind === 'metric' && inScope(row.fact.source)) telemetry.metric(row.fact as MetricFact, row.fact.ts)
        tick()
        continue
      }
      const r = raw.peek()
      if (r === null) {
        await raw.ready()
        continue
      }
      if (r && (!d || r.timeNs <= d.timeNs)) {
        raw.take()
        pos++
        if (pool) rawToPool(pool, r)
        else onRaw(r)
        tick()
        continue
      }
      const c = commands.peek()
      if (c === null) {
        await commands.ready()
        continue
      }
      if (d && (!c || d.timeNs <= c.timeNs)) {
        derived.take()
        pos++
        if (pool) derivedToPool(pool, d)
        else onDerived(d)
        tick()
        continue
      }
      if (c) {
        commands.take()
        pos++
        if (pool) commandToPool(pool, c)
        else onCommand(c)
        tick()
        continue
      }
      break
    }
    const fromPool = pool ? await pool.finish() : undefined
    if (fromPool) {
      nowMs = readNowMs
      curPos = pos + 1
      inputFacts += fromPool.inputFacts
      Object.assign(telemetry.stats, fromPool.stats)
    }
    control.finish()
    compare.finish()
    if (fromPool) compare.absorb(fromPool.parts)
  } finally {
    void pool?.close()
    raw.close()
    derived.close()
    commands.close()
    ch?.close()
  }
  opts.onProgress?.(read, Math.max(read, total))
  return { compare, telemetry, control, inputFacts, recordedFacts, elapsedMs: performance.now() - t0, incidents, collected }
}

/** A command the act stage made: its id is act's derived id of its decision, status and revision. */
function isActCommand(c: CommandFact): boolean {
  const rev = (c.config as Record<string, number>)['ben-policy']
  const decision = c.lineage[0]
  return rev !== undefined && decision !== undefined && c.id === derivedId(ACT_STAGE, ACT_VERSION, rev, [decision], c.payload.status)
}

/** Publishes rebuilt facts on core NATS under `<prefix>.replay.<run>.<subject without prefix>`. */
function publisher(deps: ReplayDeps, codec: FactCodec, run: string): (f: Fact) => void {
  const p = deps.subjects.prefix
  return (f) => {
    const enc = codec.encode(f)
    const subject = deps.subjects.forFact(f, { scrubbed: (RAW_KINDS as readonly string[]).includes(f.kind) })
    const h = natsHeaders()
    h.set(Header.MsgId, f.id)
    h.set(Header.Schema, enc.schema)
    h.set(Header.SchemaFp, enc.fingerprint)
    deps.nc.publish(`${p}.replay.${run}.${subject.slice(p.length + 1)}`, enc.data, { headers: h })
  }
}
