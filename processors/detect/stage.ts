import type { OperatorFunction } from 'rxjs'
import { derivedId, RejectReason, shown, type AnomalyFact, type Fact, type Labels, type MetricFact } from '../../schemas/index.js'
import { runStage, type Emission, type Stage, type StepResult, type Versioned } from '../stage.js'
import type { DetectorConfig, GroupMember, SeriesSettings } from './config.js'
import { emptyReading } from './detector.js'
import { explainAnomaly, labelsKey, severityOf } from './explain.js'
import { detectJournal } from './journal.js'
import {
  addGroup,
  addSeries,
  deserializeDetectState,
  dropIdle,
  makeRoom,
  newDetectState,
  removeGroup,
  removeSeries,
  serializeDetectState,
  Table,
  type DetectState,
  type GroupRecord,
  type SeriesRecord,
} from './state.js'

export const DETECT_STAGE = 'detect'
export const DETECT_VERSION = '1.2.0'
const PRODUCER = `${DETECT_STAGE}@${DETECT_VERSION}`
const NONE: readonly Fact[] = Object.freeze([])

/** Characters of a refused value that a rejection message shows. */
const SHOWN_MAX = 80

const isLabels = (l: unknown): l is Labels => l !== null && typeof l === 'object' && !Array.isArray(l)

/** ` {k=v, …}` for a refusal message (at most 5 labels, values cut). */
function labelsText(labels: Labels): string {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ''
  const parts = keys.slice(0, 5).map((k) => `${shown(k, SHOWN_MAX)}=${shown(labels[k], SHOWN_MAX)}`)
  return ` {${parts.join(', ')}${keys.length > 5 ? `, … ${keys.length - 5} more` : ''}}`
}

/** Why a metric fact cannot be scored, or null. Checks everything `step` relies on. */
function invalid(f: MetricFact): string | null {
  if (typeof f.id !== 'string' || f.id === '') return 'id: missing'
  if (typeof f.ts !== 'number' || !Number.isFinite(f.ts)) return `ts: ${shown(f.ts, SHOWN_MAX)} is not a finite event time`
  if (typeof f.source !== 'string') return 'source: not a string'
  const p = f.payload as unknown as Record<string, unknown> | null
  if (!p || typeof p !== 'object') return 'payload: missing'
  if (typeof p.name !== 'string') return 'payload.name: not a string'
  if (typeof p.value !== 'number' || !Number.isFinite(p.value)) return `payload.value: ${shown(p.value, SHOWN_MAX)} is not a finite number (NaN and ±Infinity cannot be scored)`
  if (p.labels !== undefined && !isLabels(p.labels)) return 'payload.labels: not a map'
  return null
}

/**
 * The detect stage: metric facts in, anomaly facts out (lane `anomaly`, one per anomalous
 * point, id derivedId('detect', version, revision, [input.id])).
 *
 * Rules (see README.md beside this file):
 * - NaN/±Infinity values, non-finite ts or malformed payloads are rejected (`invalid`).
 * - A series is (source, metric name, labels). Its first point at time t sets its clock;
 *   points at or after `lastTs - limits.maxLateness` are scored in arrival order; older ones
 *   are rejected (`invalid`, "out of order") and leave the state untouched.
 * - Series whose first matching rule has `enabled: false` produce nothing.
 * - A source has at most `limits.maxSeriesPerSource` series: a point of a new series past it is
 *   refused (`cardinality_limit`, to the DLQ), after the source's series idle for
 *   `limits.idleAfter` (by the new point's event time) were dropped to make room.
 * - At most `limits.maxSeries` series (and `maxGroups` groups) are kept; see `makeRoom`.
 * - A new config revision whose settings differ for a series resets that series' detectors.
 */
export const detectStage: Stage<DetectState, DetectorConfig, MetricFact> = {
  name: DETECT_STAGE,
  version: DETECT_VERSION,
  initialState: newDetectState,
  accepts: (fact: Fact): fact is MetricFact => fact.kind === 'metric',
  serialize: serializeDetectState,
  deserialize: deserializeDetectState,
  journal: detectJournal(),
  step(state, input, config): StepResult<DetectState> {
    const why = invalid(input)
    if (why) return { state, out: NONE, rejected: { reason: RejectReason.Invalid, message: `detect: metric fact ${shown(input.id, SHOWN_MAX)}: ${why}` } }
    const cfg = config.value
    const { name, value } = input.payload
    const labels: Labels = input.payload.labels ?? {}
    const settings = cfg.resolve(input.source, name)
    const groups = cfg.groupsFor(input.source, name)
    if (!settings && groups.length === 0) return { state, out: NONE }

    let out: Fact[] | null = null
    if (settings) {
      const key = input.source + '\u0000' + name + '\u0000' + labelsKey(labels)
      let rec = state.series.get(key)
      // The same fact again (republished, or re-derived, after JetStream's duplicate window):
      // already counted. Older points are refused as out of order just below.
      if (rec && rec.lastId === input.id) return { state, out: NONE }
      if (rec && input.ts < rec.lastTs - cfg.limits.maxLatenessMs) {
        state.late++
        return {
          state,
          out: NONE,
          rejected: {
            reason: RejectReason.Invalid,
            message: `detect: out of order: ${name} on ${input.source} at ts ${input.ts} is older than the series' latest point (${rec.lastTs}) by more than limits.maxLateness (${cfg.limits.maxLatenessMs} ms)`,
          },
        }
      }
      if (!rec) {
        const limit = cfg.limits.maxSeriesPerSource
        const src = state.sources.get(input.source)
        if (src && src.keys.size >= limit && dropIdle(state, input.source, input.ts, cfg.limits.idleAfterMs) === 0 && src.keys.size >= limit) {
          state.refused++
          return {
            state,
            out: NONE,
            rejected: {
              reason: RejectReason.CardinalityLimit,
              message: `detect: cardinality limit: ${input.source} already has ${src.keys.size} series (limits.maxSeriesPerSource ${limit}) and none idle for limits.idleAfter; new series ${shown(name, SHOWN_MAX)}${labelsText(labels)} refused. Drop the label with many values at the source, or raise limits.maxSeriesPerSource in ben-detectors`,
            },
          }
        }
        state.evicted += makeRoom(state.series, cfg.limits.maxSeries, (r) => removeSeries(state, r))
        // lastId present from the start (set at the first point): kept in the object itself, not in a
        // separate property array allocated when it is first set (40 B a series)
        rec = {
          key,
          source: input.source,
          metric: name,
          labels,
          lastTs: input.ts,
          settingsKey: settings.key,
          ord: state.created++,
          ens: settings.ensemble.init(),
          lastId: undefined,
        }
        addSeries(state, rec)
      } else if (rec.settingsKey !== settings.key) {
        rec.settingsKey = settings.key
        rec.ens = settings.ensemble.init()
      }
      state.journal.touch(Table.Series, key)
      const fact = scoreSeries(rec, settings, input, value, config)
      if (fact) (out ??= []).push(fact)
    }
    for (const m of groups) {
      const fact = scoreGroup(state, m, input, value, config)
      if (fact) (out ??= []).push(fact)
    }
    return { state, out: out ?? NONE }
  },
}

function scoreSeries(rec: SeriesRecord, settings: SeriesSettings, input: MetricFact, value: number, config: Versioned<DetectorConfig>): AnomalyFact | null {
  const ens = settings.ensemble
  const r = ens.scratch
  ens.step(rec.ens, { ts: input.ts, value }, r)
  if (input.ts > rec.lastTs) rec.lastTs = input.ts
  rec.lastId = input.id
  if (!r.anomaly) return null
  const threshold = ens.params.threshold
  const severity = severityOf(r.score, settings.severity)
  const subject = { metric: rec.metric, source: input.source, value }
  const parts = explainAnomaly(subject, ens.names, ens.weights, r.readings, r.top, r.score, threshold, severity, r.scale, ens.periodMs)
  return anomalyFact(
    input,
    config,
    '',
    { metric: rec.metric, value, score: r.score, threshold, detectors: parts.detectors, baseline: parts.baseline, severity, labels: rec.labels },
    parts.explain,
  )
}

const groupReading = emptyReading()

function scoreGroup(state: DetectState, m: GroupMember, input: MetricFact, value: number, config: Versioned<DetectorConfig>): AnomalyFact | null {
  const g = m.group
  const key = input.source + '\u0000' + g.name
  let rec: GroupRecord | undefined = state.groups.get(key)
  const dim = g.metrics.length
  if (!rec || rec.settingsKey !== g.key) {
    if (!rec) state.evicted += makeRoom(state.groups, config.value.limits.maxGroups, (r) => removeGroup(state, r))
    rec = {
      key,
      source: input.source,
      group: g.name,
      lastTs: input.ts,
      settingsKey: g.key,
      ord: rec ? rec.ord : state.created++,
      values: new Array<number>(dim).fill(0),
      seen: new Array<number>(dim).fill(0),
      pca: g.pca.init(),
    }
    addGroup(state, rec)
  }
  if (m.index === 0) {
    if (rec.lastId === input.id) return null
    rec.lastId = input.id
  }
  state.journal.touch(Table.Groups, key)
  rec.values[m.index] = value
  rec.seen[m.index] = 1
  if (input.ts > rec.lastTs) rec.lastTs = input.ts
  // the group's first metric paces it: a vector is scored when it arrives and all are known
  if (m.index !== 0) return null
  for (let i = 0; i < dim; i++) if (!rec.seen[i]) return null
  const r = groupReading
  g.pca.step(rec.pca, { ts: input.ts, values: rec.values }, r, 1)
  if (!r.anomaly) return null
  const score = r.score
  const severity = severityOf(score, g.severity)
  if (score < g.threshold) return null
  const metric = `group:${g.name}`
  const parts = explainAnomaly({ metric: `${g.name} (${g.metrics.join(', ')})`, source: input.source, value }, ['pca'], [1], [r], 0, score, g.threshold, severity, 1, 86_400_000)
  const labels: Record<string, string> = { group: g.name }
  for (let i = 0; i < dim; i++) labels[g.metrics[i]] = String(rec.values[i])
  return anomalyFact(input, config, metric, { metric, value, score, threshold: g.threshold, detectors: parts.detectors, baseline: parts.baseline, severity, labels }, parts.explain)
}

function anomalyFact(input: MetricFact, config: Versioned<DetectorConfig>, discriminator: string, payload: AnomalyFact['payload'], explain: string): AnomalyFact {
  return {
    id: derivedId(DETECT_STAGE, DETECT_VERSION, config.revision, [input.id], discriminator),
    ts: input.ts,
    source: input.source,
    lane: 'anomaly',
    kind: 'anomaly',
    payload,
    lineage: [input.id],
    producer: PRODUCER,
    config: { [config.bucket]: config.revision },
    explain,
  }
}

/** The detect stage as an RxJS operator (config read per fact: hot-reloadable). */
export function detect(config: () => Versioned<DetectorConfig>, initial?: DetectState): OperatorFunction<MetricFact, Emission<MetricFact>> {
  return runStage(detectStage, config, initial)
}
