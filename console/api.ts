import type { Ben } from '../client/index.js'
import { sqlString } from '../projections/index.js'
import { replayDeps, replayIncident, type ReplayResult } from '../replay/index.js'
import { isToken, type Fact } from '../schemas/index.js'
import { StreamAdmin } from '../streams/index.js'

/** JSON for the browser: bytes as base64, bigint as text. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64')
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64')
    if (typeof v === 'bigint') return v.toString()
    return v
  })
}

/** A request the console refuses, with the HTTP status and a message for the page. */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal'
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const ID_RE = /^[A-Za-z0-9_:-]{4,128}$/
const FACT_TABLES = ['anomalies', 'decisions', 'commands', 'acks', 'incident_events', 'facts'] as const

export function checkSource(source: string): string {
  if (!isToken(source) || source.includes('*')) throw new ApiRefusal(400, `'${source}' is not a source id`)
  return source
}

/** One fact by id (or a prefix of at least 8 characters), decoded exactly from its Avro bytes. */
export async function factById(ben: Ben, id: string): Promise<{ table: string; fact: Fact }> {
  if (!ID_RE.test(id) || id.length < 8) throw new ApiRefusal(400, `'${id}' is not a fact id (at least 8 characters)`)
  for (const t of FACT_TABLES) {
    const cond = id.length >= 64 ? `id = ${sqlString(id)}` : `startsWith(id, ${sqlString(id)})`
    const r = await ben.query(`SELECT schema_fp, avro FROM ${t} WHERE ${cond} ORDER BY id LIMIT 1`)
    const row = r.rows[0]
    if (!row) continue
    const d = ben.codec.decode(Buffer.from(String(row[1]), 'base64'), String(row[0]))
    if (!d.ok) throw new ApiRefusal(500, `fact ${id} in ${t} does not decode: ${d.error.message}`)
    return { table: t, fact: d.value }
  }
  throw new ApiRefusal(404, `no fact ${id} in ${FACT_TABLES.join(', ')} (it may not be projected yet)`)
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

/** Sources (from recent facts), sidecars (from hello), and the pipeline's consumer lag. */
export async function fleet(
  ben: Ben,
  hellos: ReadonlyMap<string, HelloSeen>,
): Promise<{ sources: FleetSource[]; sidecars: HelloSeen[]; components: HelloSeen[]; consumers: ConsumerLag[] }> {
  const hour = `now64(3) - INTERVAL 1 HOUR`
  const [base, labels, anomalies, open, consumers] = await Promise.all([
    ben.query(`SELECT source, toUnixTimestamp64Milli(max(ts)), countIf(ts >= ${hour}) FROM facts GROUP BY source ORDER BY source LIMIT 2000`),
    // Metric labels (job, device, …) of the last hour: what the fleet can be grouped by.
    ben.query(
      `SELECT source, groupUniqArray(20)(concat(k, '=', v)) FROM (SELECT source, labels FROM facts WHERE kind = 'metric' AND ts >= ${hour}) ARRAY JOIN mapKeys(labels) AS k, mapValues(labels) AS v GROUP BY source LIMIT 2000`,
    ),
    ben.query(
      `SELECT source, count(), max(multiIf(severity = 'critical', 3, severity = 'high', 2, severity = 'medium', 1, 0)) FROM anomalies WHERE ts >= ${hour} GROUP BY source LIMIT 2000`,
    ),
    ben.query(`SELECT source, count() FROM incidents FINAL WHERE transition != 'resolved' GROUP BY source LIMIT 2000`),
    consumerLag(ben),
  ])
  const lab = new Map(labels.rows.map((r) => [String(r[0]), (r[1] as string[]).slice().sort()]))
  const an = new Map(anomalies.rows.map((r) => [String(r[0]), { n: Number(r[1]), worst: ['low', 'medium', 'high', 'critical'][Number(r[2])] ?? '' }]))
  const inc = new Map(open.rows.map((r) => [String(r[0]), Number(r[1])]))
  const sources = base.rows.map(([s, last, n]) => {
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
  const all = [...hellos.values()]
  return { sources, sidecars: all.filter((h) => h.component === 'sidecar'), components: all.filter((h) => h.component !== 'sidecar'), consumers }
}

export interface HelloSeen {
  component: string
  instance: string
  version: string
  ts: number
  info: Record<string, string>
  /** Stream time the hello was stored. */
  seenAt: number
}

export interface ConsumerLag {
  stream: string
  consumer: string
  pending: number
  ackPending: number
  redelivered: number
}

async function consumerLag(ben: Ben): Promise<ConsumerLag[]> {
  const admin = await StreamAdmin.open(ben.nc)
  const out: ConsumerLag[] = []
  for await (const s of admin.streams()) {
    for await (const c of admin.consumers(s.config.name)) {
      if (!c.config.durable_name) continue
      out.push({ stream: s.config.name, consumer: c.name, pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered })
    }
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream) || a.consumer.localeCompare(b.consumer))
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

/** A source's metric series (averaged into at most ~600 steps) and its anomalies, over the window that ends at its last fact. */
export async function series(ben: Ben, source: string, windowMs: number): Promise<SeriesData> {
  const s = sqlString(checkSource(source))
  const last = await ben.query(`SELECT toUnixTimestamp64Milli(max(ts)), count() FROM facts WHERE source = ${s}`)
  if (!Number(last.rows[0]?.[1])) throw new ApiRefusal(404, `no facts from source ${source}`)
  const to = Number(last.rows[0][0])
  const from = to - windowMs
  const step = Math.max(1000, Math.ceil(windowMs / 600 / 1000) * 1000)
  const range = `ts >= fromUnixTimestamp64Milli(toInt64(${from})) AND ts <= fromUnixTimestamp64Milli(toInt64(${to}))`
  const pts = await ben.query(
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
  const an = await ben.query(
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

/** Runs the replay of an incident (optionally what-if under a pasted pack) and shapes it for the page. */
export async function replay(ben: Ben, home: string, incidentId: string, whatIf?: { name: string; text: string }): Promise<unknown> {
  const r: ReplayResult & { incident?: unknown } = await replayIncident(replayDeps(ben, { home }), incidentId, {
    maxDiffs: 50,
    ...(whatIf ? { whatIf: { path: whatIf.name, text: whatIf.text } } : {}),
  })
  return {
    incident: r.incident ?? null,
    window: r.window,
    readFrom: r.readFrom,
    startedAfterScrub: r.startedAfterScrub,
    identical: r.identical,
    counts: r.counts,
    diffs: r.diffs.map((d) => ({ status: d.status, kind: d.kind, id: d.id, source: d.source, ts: d.ts, fields: d.fields })),
    whatIf: r.whatIf ?? null,
    notes: r.notes,
    stats: { inputFacts: r.stats.inputFacts, recordedFacts: r.stats.recordedFacts, elapsedMs: r.stats.elapsedMs },
  }
}
