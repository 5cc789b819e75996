import { sqlString } from './projector.js'
import { isToken, SEVERITY_ORDER, type Fact, type FactCodec, type IncidentFact, type Severity } from '../schemas/index.js'
import { ReportError, ReportErrorCode } from './errors.js'

/** Runs one read-only SQL statement (`Ben.query`). */
export type RunQuery = (sql: string) => Promise<{ readonly rows: unknown[][]; readonly truncated: boolean }>

export interface IncidentListOptions {
  /** Only incidents not resolved. */
  readonly open?: boolean
  /** Only incidents active (updated) at or after this time. */
  readonly since?: Date | number
  /** Minimum severity: low < medium < high < critical. */
  readonly severity?: Severity
  /** Source id, or a glob in which `*` matches any run of characters. */
  readonly source?: string
  /** Rows at most, most recently active first. Default 100. */
  readonly limit?: number
}

/** The latest state of one incident, as the `incidents` table keeps it. */
export interface IncidentSummary {
  readonly id: string
  readonly severity: string
  readonly status: 'open' | 'resolved'
  /** The latest transition: opened, updated or resolved. */
  readonly transition: string
  readonly source: string
  readonly entity: Readonly<Record<string, string>>
  readonly openedAt: number
  readonly updatedAt: number
  readonly title: string
  /** How many fact ids the incident keeps. */
  readonly facts: number
}

/** An incident as the tables hold it; the client adds the narrative (processors/incident's `narrate`). */
export interface IncidentRecord {
  /** The incident's latest transition fact. */
  readonly incident: IncidentFact
  /** All its transition facts, in stream order. */
  readonly transitions: IncidentFact[]
  /** The facts it cites or that link to them (alerts, anomalies, decisions, commands, acks), by event time. */
  readonly facts: Fact[]
  /** Rows that were found but did not decode (never expected: a schema missing from the registry). */
  readonly unreadable: Array<{ id: string; table: string; reason: string }>
}

const ID_RE = /^[A-Za-z0-9_:-]+$/
const PAGE = 200
const MAX_ROUNDS = 6
const MAX_FACTS = 10_000
const list = (xs: Iterable<string>) => `(${[...xs].map(sqlString).join(',')})`
const ms = (v: unknown) => Number(v)

function sourceCondition(source: string): string {
  if (!source.includes('*')) {
    if (!isToken(source)) throw new ReportError(ReportErrorCode.BadOption, `source '${source}' is not a source id (use '*' as a wildcard, e.g. 'web-*')`)
    return `source = ${sqlString(source)}`
  }
  const like = source.replace(/[\\%_]/g, '\\$&').replaceAll('*', '%')
  return `source LIKE ${sqlString(like)}`
}

/** The latest state of each incident, filtered, most recently active first. */
export async function listIncidents(query: RunQuery, opts: IncidentListOptions = {}): Promise<IncidentSummary[]> {
  const where: string[] = []
  if (opts.open) where.push(`transition != 'resolved'`)
  if (opts.since !== undefined) {
    const t = new Date(opts.since).getTime()
    if (Number.isNaN(t)) throw new ReportError(ReportErrorCode.BadOption, `since is not a valid time: ${String(opts.since)}`)
    where.push(`updated_at >= fromUnixTimestamp64Milli(toInt64(${Math.floor(t)}))`)
  }
  if (opts.severity !== undefined) {
    const min = SEVERITY_ORDER[opts.severity]
    if (min === undefined) throw new ReportError(ReportErrorCode.BadOption, `severity must be one of ${Object.keys(SEVERITY_ORDER).join(', ')}, not '${opts.severity}'`)
    where.push(`severity IN ${list(Object.keys(SEVERITY_ORDER).filter((s) => SEVERITY_ORDER[s as Severity] >= min))}`)
  }
  if (opts.source !== undefined && opts.source !== '*') where.push(sourceCondition(opts.source))
  const limit = opts.limit ?? 100
  if (!Number.isInteger(limit) || limit <= 0) throw new ReportError(ReportErrorCode.BadOption, `limit must be a positive whole number, not ${limit}`)
  const sql =
    `SELECT incident_id, severity, transition, source, entity, toUnixTimestamp64Milli(opened_at), toUnixTimestamp64Milli(updated_at), length(fact_ids), title ` +
    `FROM incidents FINAL ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY updated_at DESC, incident_id LIMIT ${limit}`
  const r = await query(sql)
  return r.rows.map(([id, severity, transition, source, entity, opened, updated, facts, title]) => ({
    id: String(id),
    severity: String(severity),
    status: transition === 'resolved' ? 'resolved' : 'open',
    transition: String(transition),
    source: String(source),
    entity: (entity ?? {}) as Record<string, string>,
    openedAt: ms(opened),
    updatedAt: ms(updated),
    title: String(title),
    facts: Number(facts),
  }))
}

/** Every row of `sql` (which must have a deterministic ORDER BY), a page at a time. */
async function allRows(query: RunQuery, sql: string): Promise<unknown[][]> {
  const out: unknown[][] = []
  for (let offset = 0; ; ) {
    const r = await query(`${sql} LIMIT ${PAGE} OFFSET ${offset}`)
    out.push(...r.rows)
    offset += r.rows.length
    if (r.rows.length === 0 || (r.rows.length < PAGE && !r.truncated)) return out
  }
}

/** Finds the one incident an id or id prefix names. */
async function resolveId(query: RunQuery, id: string): Promise<string> {
  if (id.length < 4 || !ID_RE.test(id)) throw new ReportError(ReportErrorCode.BadOption, `'${id}' is not an incident id: give the id or at least its first 4 characters`)
  const r = await query(`SELECT DISTINCT incident_id FROM incidents WHERE startsWith(incident_id, ${sqlString(id)}) ORDER BY incident_id LIMIT 6`)
  const ids = r.rows.map((row) => String(row[0]))
  if (ids.includes(id)) return id
  if (ids.length === 0) throw new ReportError(ReportErrorCode.NotFound, `no incident has an id starting with '${id}' (see \`ben incidents list\`)`)
  if (ids.length > 1)
    throw new ReportError(ReportErrorCode.Ambiguous, `'${id}' names ${ids.length > 5 ? 'more than 5' : ids.length} incidents (${ids.slice(0, 5).join(', ')}): give more of the id`)
  return ids[0]
}

const FACT_TABLES = ['anomalies', 'decisions', 'commands', 'acks', 'facts'] as const
const kindCond = (t: string) => (t === 'facts' ? ` AND kind = 'alert'` : '')

/**
 * Reads one incident back from ClickHouse: its transitions (`incident_events`, plus the latest
 * row of `incidents`), the facts its transitions cite and lineage names, then what links to
 * those (decisions on them, commands from those decisions, acks and approvals of those
 * commands), a few rounds deep; each rebuilt exactly from its `avro` column.
 */
export async function incidentRecord(query: RunQuery, codec: FactCodec, idOrPrefix: string): Promise<IncidentRecord> {
  const incidentId = await resolveId(query, idOrPrefix)
  const unreadable: IncidentRecord['unreadable'] = []
  const decode = (table: string, row: unknown[]): Fact | undefined => {
    const [id, fp, avro] = row
    const r = codec.decode(Buffer.from(String(avro), 'base64'), String(fp))
    if (r.ok) return r.value
    unreadable.push({ id: String(id), table, reason: `${r.error.reason}: ${r.error.message}` })
    return undefined
  }

  const byId = new Map<string, IncidentFact>()
  const q = sqlString(incidentId)
  for (const row of await allRows(query, `SELECT id, schema_fp, avro, stream_seq FROM incident_events WHERE incident_id = ${q} ORDER BY stream_seq, id`)) {
    const f = decode('incident_events', row)
    if (f?.kind === 'incident' && !byId.has(f.id)) byId.set(f.id, f)
  }
  const latestRow = (await query(`SELECT id, schema_fp, avro FROM incidents FINAL WHERE incident_id = ${q} LIMIT 1`)).rows[0]
  const latest = latestRow ? decode('incidents', latestRow) : undefined
  if (latest?.kind === 'incident' && !byId.has(latest.id)) byId.set(latest.id, latest)
  const transitions = [...byId.values()]
  const incident = latest?.kind === 'incident' ? latest : transitions[transitions.length - 1]
  if (!incident)
    throw new ReportError(ReportErrorCode.Undecodable, `incident ${incidentId} is listed but none of its transitions could be read: ${unreadable.map((u) => u.reason).join('; ')}`)

  const facts = new Map<string, Fact>()
  const asked = new Set<string>()
  let wanted = new Set<string>()
  for (const t of transitions) for (const id of [...t.payload.factIds, ...t.lineage]) wanted.add(id)
  let unlinked: Fact[] = []
  for (let round = 0; round < MAX_ROUNDS && (wanted.size > 0 || unlinked.length > 0) && facts.size < MAX_FACTS; round++) {
    const fresh: Fact[] = []
    const take = (table: string, rows: unknown[][]) => {
      for (const row of rows) {
        const f = decode(table, row)
        if (f && !facts.has(f.id)) {
          facts.set(f.id, f)
          fresh.push(f)
        }
      }
    }
    const ids = [...wanted].filter((id) => !asked.has(id) && !facts.has(id) && ID_RE.test(id))
    ids.forEach((id) => asked.add(id))
    for (let i = 0; i < ids.length; i += PAGE) {
      const chunk = list(ids.slice(i, i + PAGE))
      for (const t of FACT_TABLES) take(t, await allRows(query, `SELECT id, schema_fp, avro FROM ${t} WHERE id IN ${chunk}${kindCond(t)} ORDER BY id`))
    }
    // What points back at the facts found so far: decisions on them, commands from those
    // decisions, acks and approvals of those commands.
    const from = [...unlinked, ...fresh]
    const signalIds = from.filter((f) => f.kind === 'anomaly' || f.kind === 'alert').map((f) => f.id)
    const decisionIds = from.filter((f) => f.kind === 'decision').map((f) => f.id)
    const commandIds = [...new Set(from.flatMap((f) => (f.kind === 'command' ? [f.payload.commandId] : [])))].filter((c) => ID_RE.test(c))
    const links: Array<[string, string]> = []
    for (let i = 0; i < signalIds.length; i += PAGE)
      links.push([
        'decisions',
        `hasAny(lineage, [${signalIds
          .slice(i, i + PAGE)
          .map(sqlString)
          .join(',')}])`,
      ])
    for (let i = 0; i < decisionIds.length; i += PAGE) links.push(['commands', `decision_id IN ${list(decisionIds.slice(i, i + PAGE))}`])
    for (let i = 0; i < commandIds.length; i += PAGE) {
      links.push(['commands', `command_id IN ${list(commandIds.slice(i, i + PAGE))}`])
      links.push(['acks', `command_id IN ${list(commandIds.slice(i, i + PAGE))}`])
    }
    const before = fresh.length
    for (const [t, cond] of links) take(t, await allRows(query, `SELECT id, schema_fp, avro FROM ${t} WHERE ${cond} ORDER BY id`))
    unlinked = fresh.slice(before)
    wanted = new Set(fresh.flatMap((f) => f.lineage))
  }
  const all = [...facts.values()].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { incident, transitions, facts: all, unreadable }
}
