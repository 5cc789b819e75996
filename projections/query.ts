import type { ClickHouseClient } from '@clickhouse/client'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'

export interface QueryRequest {
  readonly sql: string
  /** Rows returned at most (the reply says when it was cut). Default 10,000. */
  readonly maxRows?: number
}

export type QueryReply =
  | { readonly ok: true; readonly columns: Array<{ name: string; type: string }>; readonly rows: unknown[][]; readonly truncated: boolean; readonly elapsedMs: number }
  | { readonly ok: false; readonly error: string; readonly code?: string }

/** Read-only statements: ClickHouse enforces it with `readonly=1`; this is the friendly check. */
const READ_ONLY = /^\s*(\(?\s*)*(select|with|show|describe|desc|explain|exists)\b/i

/**
 * Runs one read-only query. ClickHouse itself refuses writes (`readonly=1`), so this is safe
 * even for SQL that slips past the prefix check. Never throws.
 */
export async function runReadOnlyQuery(client: ClickHouseClient, req: QueryRequest, maxBytes = 900_000): Promise<QueryReply> {
  const sql = req.sql.trim().replace(/;\s*$/, '')
  if (!READ_ONLY.test(sql)) return { ok: false, code: 'not_read_only', error: 'only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed: `ben query` is read-only' }
  const t0 = performance.now()
  try {
    const rs = await client.query({ query: sql, format: 'JSONCompact', clickhouse_settings: { readonly: '1' } })
    const body = (await rs.json()) as unknown as { meta: Array<{ name: string; type: string }>; data: unknown[][] }
    const max = req.maxRows ?? 10_000
    let rows = body.data.slice(0, max)
    let truncated = body.data.length > max
    let size = JSON.stringify(rows).length
    while (size > maxBytes && rows.length > 1) {
      rows = rows.slice(0, Math.floor(rows.length / 2))
      truncated = true
      size = JSON.stringify(rows).length
    }
    return { ok: true, columns: body.meta, rows, truncated, elapsedMs: Math.round(performance.now() - t0) }
  } catch (err) {
    const e = err as Error & { code?: string | number }
    return { ok: false, code: e.code !== undefined ? String(e.code) : undefined, error: firstLine(e.message) }
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim()
}

/**
 * The read-only query service that `ben up` runs on `<prefix>.svc.query`: the embedded
 * ClickHouse can be opened by one process only, so other `ben` commands query through it.
 */
export function serveQueries(nc: NatsConnection, client: ClickHouseClient, subject: string): Subscription {
  return nc.subscribe(subject, {
    queue: 'ben-query',
    callback: (err, msg) => {
      if (err) return
      let req: QueryRequest
      try {
        req = JSON.parse(new TextDecoder().decode(msg.data)) as QueryRequest
        if (typeof req.sql !== 'string') throw new Error('sql must be a string')
      } catch (e) {
        msg.respond(JSON.stringify({ ok: false, code: 'bad_request', error: `bad query request: ${(e as Error).message}` }))
        return
      }
      // Respond from a promise chain: the callback itself never awaits.
      void runReadOnlyQuery(client, req).then((reply) => msg.respond(JSON.stringify(reply)))
    },
  })
}

export const querySubject = (prefix: string): string => `${prefix}.svc.query`
