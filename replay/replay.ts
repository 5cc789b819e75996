import { compileGlob } from '../schemas/index.js'
import { StreamAdmin, streamName } from '../streams/index.js'
import { narrate } from '../processors/incident/index.js'
import { ActConfigs, ConfigHistory, ConfigSpecs } from './configs.js'
import { runEngine, type EnginePlan } from './engine.js'
import { ReplayError, ReplayErrorCode } from './errors.js'
import { ReadFrom, type ReplayDeps, type ReplayOptions, type ReplayResult, type WindowSpec } from './types.js'
import { factSources, incidentTransitions } from '../projections/index.js'
import { loadWhatIf, whatIfReport, type WhatIfConfig } from './what-if.js'

/** What `replayIncident` found out about the incident before replaying it. */
export interface IncidentScope {
  readonly incidentId: string
  readonly sources: readonly string[]
  readonly from: number
  readonly to: number
  readonly transitions: number
}

/** Finds an incident (full id or unique prefix) in `incident_events`: its sources and window. */
export async function findIncident(deps: ReplayDeps, id: string): Promise<IncidentScope> {
  if (!/^[0-9a-f]{4,64}$/.test(id))
    throw new ReplayError(
      ReplayErrorCode.UnknownIncident,
      `'${id}' is not an incident id (hex digits, at least 4, as printed by \`ben query "SELECT incident_id, title FROM incidents"\`)`,
    )
  const rows = await incidentTransitions(deps.warehouse, id)
  const ids = new Set(rows.map((r) => r.incidentId))
  if (ids.size === 0)
    throw new ReplayError(
      ReplayErrorCode.UnknownIncident,
      `no incident ${id} in the incident_events table (is it still being projected? \`ben query "SELECT incident_id, title FROM incidents"\` lists them)`,
    )
  if (ids.size > 1) throw new ReplayError(ReplayErrorCode.AmbiguousIncident, `${id} names ${ids.size} incidents (${[...ids].slice(0, 5).join(', ')}…): give more of the id`)
  let from = Infinity
  let to = -Infinity
  for (const r of rows) {
    from = Math.min(from, r.openedAt, r.ts)
    to = Math.max(to, r.ts)
  }
  return { incidentId: [...ids][0], sources: [...new Set(rows.map((r) => r.source))].sort(), from, to, transitions: rows.length }
}

/**
 * Rebuilds one incident: its sources over its window, warmed from the look-back, compared with
 * what was recorded, and narrated from the rebuilt facts.
 */
export async function replayIncident(deps: ReplayDeps, id: string, options: ReplayOptions = {}): Promise<ReplayResult & { readonly incident: IncidentScope }> {
  const scope = await findIncident(deps, id)
  const result = await replay(deps, { from: scope.from, to: scope.to, sources: new Set(scope.sources), collect: true }, options)
  const latest = result.incidents.find((i) => i.payload.incidentId === scope.incidentId)
  const notes = [...result.notes]
  if (!latest) notes.push(`the rebuild did not derive incident ${scope.incidentId}: no narrative`)
  const narrative = latest ? narrate(result.facts ?? [], latest) : undefined
  return { ...result, narrative, notes, incident: scope }
}

/** Rebuilds any window, for the sources matching a glob (default all). */
export async function replayWindow(deps: ReplayDeps, window: WindowSpec, options: ReplayOptions = {}): Promise<ReplayResult> {
  if (!(Number.isFinite(window.from) && Number.isFinite(window.to) && window.from <= window.to))
    throw new ReplayError(ReplayErrorCode.BadOptions, `the window must have from <= to (got ${window.from}..${window.to})`)
  const sources = window.source && window.source !== '*' ? await matchingSources(deps, window.source) : null
  return replay(deps, { from: window.from, to: window.to, sources, collect: false }, options)
}

/** Sources known to FACTS (per-subject counts) or to ClickHouse, matching a glob. */
async function matchingSources(deps: ReplayDeps, pattern: string): Promise<Set<string>> {
  const match = compileGlob(pattern)
  const found = new Set<string>()
  try {
    const admin = await StreamAdmin.open(deps.nc)
    const info = await admin.stream(streamName({ streamPrefix: deps.streamPrefix }, 'FACTS'), deps.subjects.factsAll)
    for (const s of Object.keys(info.state.subjects ?? {})) found.add(s.slice(s.lastIndexOf('.') + 1))
  } catch {
    // FACTS unreadable: ClickHouse still knows the sources
  }
  for (const s of await factSources(deps.warehouse).catch(() => [])) found.add(s)
  return new Set([...found].filter(match))
}

async function replay(deps: ReplayDeps, scope: { from: number; to: number; sources: Set<string> | null; collect: boolean }, options: ReplayOptions): Promise<ReplayResult> {
  const notes: string[] = []
  const lookbackStart = options.lookbackMs !== undefined ? scope.from - options.lookbackMs : -Infinity
  const admin = await StreamAdmin.open(deps.nc)
  const topo = { streamPrefix: deps.streamPrefix }
  const facts = await admin.stream(streamName(topo, 'FACTS')).catch(() => undefined)
  const derived = await admin.stream(streamName(topo, 'DERIVED')).catch(() => undefined)
  if (!derived) throw new ReplayError(ReplayErrorCode.NoData, `stream ${streamName(topo, 'DERIVED')} is not there: nothing was recorded to compare with`)
  const dropped = !facts || facts.state.first_seq > 1
  const complete = !dropped || (Number.isFinite(lookbackStart) && Date.parse(facts!.state.first_ts) <= lookbackStart - 5 * 60_000)
  const read = options.read ?? ReadFrom.Auto
  const readFrom = read === ReadFrom.Auto ? (complete ? 'jetstream' : 'clickhouse') : read
  if (readFrom === 'clickhouse') {
    notes.push(
      read === ReadFrom.ClickHouse
        ? 'the rebuild started after scrub: scrubbed facts were read from ClickHouse (as asked), so scrub itself was not re-run'
        : `the rebuild started after scrub: JetStream FACTS no longer holds the raw facts (first kept: seq ${facts?.state.first_seq ?? '?'}, stored ${facts?.state.first_ts ?? '?'}), so the scrubbed facts were read from ClickHouse and scrub itself was not re-run`,
    )
  } else if (dropped) notes.push(`FACTS starts at seq ${facts!.state.first_seq}: detector state is warmed from there`)
  if (derived.state.first_seq > 1) notes.push(`DERIVED starts at seq ${derived.state.first_seq} (${derived.state.first_ts}): policy and incident state is warmed from there`)

  let whatIf: WhatIfConfig | undefined
  if (options.whatIf) {
    whatIf = loadWhatIf(options.whatIf.path, options.whatIf.text)
    notes.push(
      `what-if: ${whatIf.path} (a ${whatIf.kind === 'policy' ? 'policy pack' : whatIf.kind === 'detectors' ? 'detector config' : 'redaction manifest'}) replaces every recorded revision of ${whatIf.kind === 'policy' ? 'ben-policy' : whatIf.kind === 'detectors' ? 'ben-detectors' : 'ben-redaction'}; rebuilt facts keep the recorded revision numbers so that unchanged ones keep their ids`,
    )
  }
  const pre = deps.streamPrefix
  const [scrub, detect, policy, incident] = await Promise.all([
    ConfigHistory.open(deps.nc, pre, ConfigSpecs.scrub, whatIf?.kind === 'manifest' ? whatIf.value : undefined),
    ConfigHistory.open(deps.nc, pre, ConfigSpecs.detect, whatIf?.kind === 'detectors' ? whatIf.value : undefined),
    ConfigHistory.open(deps.nc, pre, ConfigSpecs.policy, whatIf?.kind === 'policy' ? whatIf.value : undefined),
    ConfigHistory.open(deps.nc, pre, ConfigSpecs.incident),
  ])
  if (whatIf?.kind === 'manifest' && readFrom === 'clickhouse') notes.push('what-if manifest has no effect: the rebuild starts after scrub')
  const act = deps.issuer ? new ActConfigs(policy, deps.issuer) : undefined
  if (!act) notes.push('commands were not rebuilt: no issuer key (the recorded commands were used as they are)')

  const plan: EnginePlan = { from: scope.from, to: scope.to, lookbackStart, sources: scope.sources, readFrom, collect: scope.collect }
  const o = await runEngine(
    deps,
    plan,
    { scrub, detect, policy, incident, act },
    { onProgress: options.onProgress, publishRun: options.publish?.run, maxDiffs: options.maxDiffs, workers: options.workers },
  )
  if (o.control.stats.unresolved > 0) {
    notes.push(
      `${o.control.stats.unresolved} recorded outputs named an input the replay did not have (${whatIf ? 'the what-if did not make it, ' : ''}older than the look-back, or not rebuilt)`,
    )
  }
  if (options.publish) notes.push(`rebuilt facts were published on ${deps.subjects.prefix}.replay.${options.publish.run}.> (core NATS: no stream keeps them)`)
  const cmp = o.compare
  const secs = o.elapsedMs / 1000
  return {
    window: { from: scope.from, to: scope.to, lookbackFrom: Number.isFinite(lookbackStart) ? lookbackStart : null },
    sources: scope.sources ? [...scope.sources].sort() : null,
    readFrom,
    startedAfterScrub: readFrom === 'clickhouse',
    identical: cmp.identical,
    counts: { ...cmp.counts },
    byKind: cmp.byKind,
    diffs: cmp.diffs,
    whatIf: whatIf ? whatIfReport(whatIf, cmp.diffs) : undefined,
    incidents: [...o.incidents.values()].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1)),
    notes,
    stats: {
      inputFacts: o.inputFacts,
      recordedFacts: o.recordedFacts,
      elapsedMs: Math.round(o.elapsedMs),
      factsPerSecond: secs > 0 ? Math.round(o.inputFacts / secs) : 0,
      telemetry: { ...o.telemetry.stats },
      control: { ...o.control.stats },
    },
    facts: scope.collect ? o.collected : undefined,
  }
}
