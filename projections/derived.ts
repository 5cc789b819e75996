import type { Fact } from '../schemas/index.js'
import type { Projection, RowMeta } from './projection.js'
import { COMMON_COLUMNS, commonValues, TRAILER_COLUMNS, trailerValues } from './rows.js'

const cols = (...specific: string[]) => [...COMMON_COLUMNS, ...specific, ...TRAILER_COLUMNS]
const row = (f: Fact, meta: RowMeta, specific: unknown[]) => [...commonValues(f), ...specific, ...trailerValues(f, meta)]

/** `anomalies`: detector output from `ben.anomaly.>`. */
export const anomaliesProjection: Projection = {
  name: 'anomalies',
  version: 1,
  table: 'anomalies',
  columns: cols('metric', 'value', 'score', 'threshold', 'detectors', 'detector_scores', 'baseline_centre', 'baseline_spread', 'severity', 'labels'),
  stream: 'DERIVED',
  filterSubject: (s) => s.anomalyAll,
  handles: (f) => f.kind === 'anomaly',
  toRow(f, meta) {
    if (f.kind !== 'anomaly') throw new TypeError('anomalies projection got ' + f.kind)
    const p = f.payload
    return row(f, meta, [
      p.metric,
      p.value,
      p.score,
      p.threshold,
      p.detectors.map((d) => d.name),
      p.detectors.map((d) => d.score),
      p.baseline.centre,
      p.baseline.spread,
      p.severity,
      p.labels,
    ])
  },
}

/** `decisions`: policy decisions from `ben.decision.>`. */
export const decisionsProjection: Projection = {
  name: 'decisions',
  version: 1,
  table: 'decisions',
  columns: cols('outcome', 'rule', 'pack', 'pack_revision', 'severity', 'verb', 'target', 'args', 'limits', 'suppressed', 'reason', 'labels'),
  stream: 'DERIVED',
  filterSubject: (s) => s.decisionAll,
  handles: (f) => f.kind === 'decision',
  toRow(f, meta) {
    if (f.kind !== 'decision') throw new TypeError('decisions projection got ' + f.kind)
    const p = f.payload
    return row(f, meta, [
      p.outcome,
      p.rule,
      p.pack,
      p.packRevision,
      p.severity,
      p.command?.verb ?? '',
      p.command?.target ?? '',
      p.command?.args ?? '',
      JSON.stringify(p.limits),
      p.suppressed,
      p.reason,
      p.labels,
    ])
  },
}

/** `commands`: signed commands, proposals, approvals and rejections from `ben.cmd.>`. */
export const commandsProjection: Projection = {
  name: 'commands',
  version: 1,
  table: 'commands',
  columns: cols('command_id', 'status', 'target', 'verb', 'args', 'issued_at', 'expires_at', 'nonce', 'key_id', 'decision_id', 'signers', 'required', 'reason'),
  stream: 'COMMANDS',
  filterSubject: (s) => s.cmdAll,
  handles: (f) => f.kind === 'command',
  toRow(f, meta) {
    if (f.kind !== 'command') throw new TypeError('commands projection got ' + f.kind)
    const p = f.payload
    return row(f, meta, [
      p.commandId,
      p.status,
      p.target,
      p.verb,
      p.args,
      p.issuedAt,
      p.expiresAt,
      p.nonce,
      p.keyId,
      p.decisionId,
      p.signatures.map((s) => `${s.role}:${s.keyId}`),
      p.required,
      p.reason ?? '',
    ])
  },
}

/** `acks`: the targets' signed acknowledgements from `ben.ack.>`. */
export const acksProjection: Projection = {
  name: 'acks',
  version: 1,
  table: 'acks',
  columns: cols('command_id', 'target', 'verb', 'status', 'reason', 'key_id'),
  stream: 'COMMANDS',
  filterSubject: (s) => s.ackAll,
  handles: (f) => f.kind === 'ack',
  toRow(f, meta) {
    if (f.kind !== 'ack') throw new TypeError('acks projection got ' + f.kind)
    const p = f.payload
    return row(f, meta, [p.commandId, p.target, p.verb, p.status, p.reason ?? '', p.keyId])
  },
}

const incidentColumns = cols('incident_id', 'transition', 'severity', 'entity', 'opened_at', 'updated_at', 'fact_ids', 'title')
function incidentRow(f: Fact, meta: RowMeta): unknown[] {
  if (f.kind !== 'incident') throw new TypeError('incident projection got ' + f.kind)
  const p = f.payload
  return row(f, meta, [p.incidentId, p.transition, p.severity, p.entity, p.openedAt, p.updatedAt, p.factIds, p.title])
}

/** `incident_events`: every incident transition from `ben.incident.>`. */
export const incidentEventsProjection: Projection = {
  name: 'incident-events',
  version: 1,
  table: 'incident_events',
  columns: incidentColumns,
  stream: 'DERIVED',
  filterSubject: (s) => s.incidentAll,
  handles: (f) => f.kind === 'incident',
  toRow: incidentRow,
}

/**
 * `incidents`: the latest state per incident. One row per incident id; a newer transition
 * replaces the older (ReplacingMergeTree by stream sequence), so the projector skips the id
 * lookup (rows are meant to be replaced) and queries read it with FINAL.
 */
export const incidentsProjection: Projection = {
  name: 'incidents',
  version: 1,
  table: 'incidents',
  columns: incidentColumns,
  stream: 'DERIVED',
  filterSubject: (s) => s.incidentAll,
  handles: (f) => f.kind === 'incident',
  toRow: incidentRow,
  upsert: true,
}
