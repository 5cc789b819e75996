import type { ClickHouseClient } from '@clickhouse/client'
import { sqlString } from './projector.js'
import type { Fact, FactCodec } from '../schemas/index.js'
import type { Reader } from '../streams/index.js'

/** Read access to the projections: through `ben up`'s query service, or a ClickHouse client. */
export interface Warehouse {
  /** Runs a read-only query; `truncated` when the reply was cut (the caller asks for less). */
  rows(sql: string, maxRows: number): Promise<{ rows: unknown[][]; truncated: boolean }>
  /** Rows per page when streaming a table (a query-service reply is bounded, a client's is not). */
  readonly pageRows: number
}

/** What `benWarehouse` needs of a connected Ben (`Ben.query`). */
export interface QueriesProjections {
  query(sql: string, opts: { maxRows?: number; timeoutMs?: number }): Promise<{ readonly rows: unknown[][]; readonly truncated: boolean }>
}

/** Through a connected Ben (the query service of `ben up`, or its direct ClickHouse URL). */
export function benWarehouse(ben: QueriesProjections): Warehouse {
  return {
    pageRows: 2000,
    async rows(sql, maxRows) {
      const r = await ben.query(sql, { maxRows, timeoutMs: 120_000 })
      return { rows: r.rows, truncated: r.truncated }
    },
  }
}

/**
 * Straight on a ClickHouse client (a server, or chDB in this process). The replay only SELECTs;
 * `readonly` is not set here because with chDB it would stick to the connection the caller may
 * also insert through.
 */
export function clientWarehouse(client: ClickHouseClient): Warehouse {
  return {
    pageRows: 50_000,
    async rows(sql, maxRows) {
      const rs = await client.query({ query: `${sql}`, format: 'JSONCompact' })
      const body = (await rs.json()) as unknown as { data: unknown[][] }
      return { rows: body.data.slice(0, maxRows), truncated: body.data.length > maxRows }
    },
  }
}

/** Runs a small query (at most `max` rows) and returns objects keyed by the given column names. */
export async function queryObjects<T extends Record<string, unknown>>(wh: Warehouse, sql: string, columns: readonly (keyof T & string)[], max = 10_000): Promise<T[]> {
  const r = await wh.rows(sql, max)
  return r.rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])) as T)
}

export interface ScrubbedRow {
  readonly seq: number
  readonly fact: Fact
}

/**
 * Streams the scrubbed metric facts of some sources from ClickHouse `facts`, in DERIVED stream
 * order (the order detect consumed them live), page by page: memory is one page. Rows whose
 * Avro does not decode are counted and skipped.
 */
export function scrubbedMetrics(
  wh: Warehouse,
  codec: FactCodec,
  o: { derivedStream: string; sources: readonly string[] | null; sinceTs?: number },
): Reader<ScrubbedRow> & { undecodable: number } {
  let last = 0
  let page: unknown[][] = []
  let i = 0
  let done = false
  let size = wh.pageRows
  let current: ScrubbedRow | undefined
  const where = [`stream = ${sqlString(o.derivedStream)}`, `kind = 'metric'`]
  if (o.sources) where.push(`source IN (${o.sources.map(sqlString).join(',') || "''"})`)
  if (o.sinceTs !== undefined && Number.isFinite(o.sinceTs)) where.push(`ts >= fromUnixTimestamp64Milli(${Math.floor(o.sinceTs)})`)
  const state = {
    total: 0,
    undecodable: 0,
    peek(): ScrubbedRow | undefined | null {
      while (!current && i < page.length) {
        const [seq, fp, avro] = page[i] as [number | string, string, string]
        const d = codec.decode(Buffer.from(avro, 'base64'), fp)
        if (d.ok) current = { seq: Number(seq), fact: d.value }
        else {
          state.undecodable++
          i++
        }
      }
      if (current) return current
      return done ? undefined : null
    },
    take(): void {
      current = undefined
      i++
    },
    async ready(): Promise<void> {
      if (current || i < page.length || done) return
      for (;;) {
        const r = await wh.rows(`SELECT stream_seq, schema_fp, avro FROM facts WHERE ${where.join(' AND ')} AND stream_seq > ${last} ORDER BY stream_seq LIMIT ${size}`, size)
        if (r.truncated && size > 50) {
          size = Math.max(50, size >> 1)
          continue
        }
        page = r.rows
        break
      }
      i = 0
      if (page.length < size) done = true
      if (page.length) last = Number((page[page.length - 1] as unknown[])[0])
    },
    close(): void {
      done = true
      page = []
    },
  }
  return state
}

/** One row of `incident_events`: which incident, whose, when, and when it opened (ms). */
export interface IncidentTransition {
  readonly incidentId: string
  readonly source: string
  readonly ts: number
  readonly openedAt: number
}

/** The transitions of every incident whose id starts with `idPrefix`, oldest first (at most 100,000). */
export async function incidentTransitions(wh: Warehouse, idPrefix: string): Promise<IncidentTransition[]> {
  const rows = await queryObjects<{ incident_id: string; source: string; ts: number | string; opened: number | string }>(
    wh,
    `SELECT incident_id, source, toUnixTimestamp64Milli(ts), toUnixTimestamp64Milli(opened_at) FROM incident_events WHERE startsWith(incident_id, ${sqlString(idPrefix)}) ORDER BY ts, id`,
    ['incident_id', 'source', 'ts', 'opened'],
    100_000,
  )
  return rows.map((r) => ({ incidentId: r.incident_id, source: r.source, ts: Number(r.ts), openedAt: Number(r.opened) }))
}

/** Every source the `facts` table holds (at most 1,000,000). */
export async function factSources(wh: Warehouse): Promise<string[]> {
  const r = await wh.rows('SELECT DISTINCT source FROM facts', 1_000_000)
  return (r.rows as Array<[string]>).map(([s]) => s)
}
