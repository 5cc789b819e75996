import type { RunQuery } from './incident-report.js'
import { sqlString } from './projector.js'

/** The tables that keep facts with their Avro bytes, searched in this order for an id. */
const FACT_TABLES = ['anomalies', 'decisions', 'commands', 'acks', 'incident_events', 'facts'] as const
export const FACT_BY_ID_TABLES: readonly string[] = FACT_TABLES

/** The stored Avro of the first fact whose id is `id` (64 characters) or starts with it, in FACT_TABLES order. */
export async function factRowById(run: RunQuery, id: string): Promise<{ table: string; schemaFp: string; avro: string } | undefined> {
  for (const t of FACT_TABLES) {
    const cond = id.length >= 64 ? `id = ${sqlString(id)}` : `startsWith(id, ${sqlString(id)})`
    const r = await run(`SELECT schema_fp, avro FROM ${t} WHERE ${cond} ORDER BY id LIMIT 1`)
    const row = r.rows[0]
    if (row) return { table: t, schemaFp: String(row[0]), avro: String(row[1]) }
  }
  return undefined
}

export interface FleetSource {
  source: string
  lastSeen: number
  factsLastHour: number
  labels: string[]
  anomaliesLastHour: number
  worstSeverity: string
  openIncidents: number
}

/** Every source with facts: when it was last seen, and its facts, metric labels, anomalies (worst severity) of the last hour and open incidents. */
export async function fleetSources(run: RunQuery): Promise<FleetSource[]> {
  const hour = `now64(3) - INTERVAL 1 HOUR`
  const [base, labels, anomalies, open] = await Promise.all([
    run(`SELECT source, toUnixTimestamp64Milli(max(ts)), countIf(ts >= ${hour}) FROM facts GROUP BY source ORDER BY source LIMIT 2000`),
    // Metric labels (job, device, …) of the last hour: what the fleet can be grouped by.
    run(
      `SELECT source, groupUniqArray(20)(concat(k, '=', v)) FROM (SELECT source, labels FROM facts WHERE kind = 'metric' AND ts >= ${hour}) ARRAY JOIN mapKeys(labels) AS k, mapValues(labels) AS v GROUP BY source LIMIT 2000`,
    ),
    run(
      `SELECT source, count(), max(multiIf(severity = 'critical', 3, severity = 'high', 2, severity = 'medium', 1, 0)) FROM anomalies WHERE ts >= ${hour} GROUP BY source LIMIT 2000`,
    ),
    run(`SELECT source, count() FROM incidents FINAL WHERE transition != 'resolved' GROUP BY source LIMIT 2000`),
  ])
  const lab = new Map(labels.rows.map((r) => [String(r[0]), (r[1] as string[]).slice().sort()]))
  const an = new Map(anomalies.rows.map((r) => [String(r[0]), { n: Number(r[1]), worst: ['low', 'medium', 'high', 'critical'][Number(r[2])] ?? '' }]))
  const inc = new Map(open.rows.map((r) => [String(r[0]), Number(r[1])]))
  return base.rows.map(([s, last, n]) => {
    const source = String(s)
    return {
      source,
      lastSeen: Number(last),
      factsLastHour: Number(n),
      labels: lab.get(source) ?? [],
      anomaliesLastHour: an.get(source)?.n ?? 0,
      worstSeverity: an.get(source)?.worst ?? '',
      openIncidents: inc.get(source) ?? 0,
    }
  })
}

export interface SeriesData {
  source: string
  from: number
  to: number
  stepMs: number
  series: Array<{ key: string; name: string; labels: string; points: Array<[number, number]> }>
  anomalies: Array<{
    id: string
    ts: number
    metric: string
    labels: string
    value: number
    score: number
    threshold: number
    centre: number
    spread: number
    severity: string
    explain: string
  }>
}

const labelText = (m: unknown) =>
  Object.entries((m ?? {}) as Record<string, string>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')

/**
 * A source's metric series (averaged into at most ~600 steps) and its anomalies, over the
 * window of `windowMs` that ends at its last fact; undefined when the source has no facts.
 */
export async function sourceSeries(run: RunQuery, source: string, windowMs: number): Promise<SeriesData | undefined> {
  const s = sqlString(source)
  const last = await run(`SELECT toUnixTimestamp64Milli(max(ts)), count() FROM facts WHERE source = ${s}`)
  if (!Number(last.rows[0]?.[1])) return undefined
  const to = Number(last.rows[0][0])
  const from = to - windowMs
  const step = Math.max(1000, Math.ceil(windowMs / 600 / 1000) * 1000)
  const range = `ts >= fromUnixTimestamp64Milli(toInt64(${from})) AND ts <= fromUnixTimestamp64Milli(toInt64(${to}))`
  const pts = await run(
    `SELECT name, labels, intDiv(toUnixTimestamp64Milli(ts), ${step}) * ${step} AS t, avg(value) FROM facts WHERE source = ${s} AND kind = 'metric' AND ${range} GROUP BY name, labels, t ORDER BY name, t LIMIT 200000`,
  )
  const by = new Map<string, SeriesData['series'][number]>()
  for (const [name, labels, t, v] of pts.rows) {
    const l = labelText(labels)
    const key = l ? `${name}{${l}}` : String(name)
    let e = by.get(key)
    if (!e) by.set(key, (e = { key, name: String(name), labels: l, points: [] }))
    e.points.push([Number(t), Number(v)])
  }
  const an = await run(
    `SELECT id, toUnixTimestamp64Milli(ts), metric, labels, value, score, threshold, baseline_centre, baseline_spread, severity, explain FROM anomalies WHERE source = ${s} AND ${range} ORDER BY ts LIMIT 5000`,
  )
  const anomalies = an.rows.map(([id, ts, metric, labels, value, score, threshold, centre, spread, severity, explain]) => ({
    id: String(id),
    ts: Number(ts),
    metric: String(metric),
    labels: labelText(labels),
    value: Number(value),
    score: Number(score),
    threshold: Number(threshold),
    centre: Number(centre),
    spread: Number(spread),
    severity: String(severity),
    explain: String(explain),
  }))
  return { source, from, to, stepMs: step, series: [...by.values()], anomalies }
}
