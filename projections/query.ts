import type { ClickHouseClient } from '@clickhouse/client'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'

export interface QueryRequest {
  readonly sql: string
  /** Rows returned at most (the reply says when it was cut). Default 10,000; streamed: 1,000,000. */
  readonly maxRows?: number
  /**
   * Streamed reply: the rows come in several messages of at most ~256 KB (`QueryChunk`), then
   * an empty message. Without it, one reply, cut to fit a NATS message (`truncated`).
   */
  readonly stream?: boolean
}

/** One message of a streamed reply: the first carries the columns; the last says `done`. */
export type QueryChunk =
  | {
      readonly ok: true
      readonly columns?: Array<{ name: string; type: string }>
      readonly rows: unknown[][]
      readonly done: boolean
      readonly truncated?: boolean
      readonly elapsedMs?: number
    }
  | { readonly ok: false; readonly error: string; readonly code?: string }

/** Rows bigger than this many bytes of JSON are sent in several chunks. */
export const CHUNK_BYTES = 256_000
/** What one streamed query returns at most (rows held in the server's memory). */
export const STREAM_MAX_ROWS = 1_000_000

export type QueryReply =
  | { readonly ok: true; readonly columns: Array<{ name: string; type: string }>; readonly rows: unknown[][]; readonly truncated: boolean; readonly elapsedMs: number }
  | { readonly ok: false; readonly error: string; readonly code?: string }

/** Read-only statements: ClickHouse enforces it with `readonly=1`; this is the friendly check. */
const READ_ONLY = /^\s*(\(?\s*)*(select|with|show|describe|desc|explain|exists)\b/i

/**
 * Runs one read-only query. ClickHouse itself refuses writes (`readonly=1`), so this is safe
 * even for SQL that slips past the prefix check. Never throws.
 */
export async function runReadOnlyQuery(client: ClickHouseClient, req: QueryRequest, maxBytes = req.stream ? Infinity : 900_000): Promise<QueryReply> {
  const sql = req.sql.trim().replace(/;\s*$/, '')
  if (!READ_ONLY.test(sql)) return { ok: false, code: 'not_read_only', error: 'only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed: `ben query` is read-only' }
  const t0 = performance.now()
  try {
    const rs = await client.query({ query: sql, format: 'JSONCompact', clickhouse_settings: { readonly: '1' } })
    const text = await rs.text()
    let body: { meta: Array<{ name: string; type: string }>; data: unknown[][] }
    try {
      body = JSON.parse(text) as typeof body
    } catch (err) {
      return {
        ok: false,
        code: 'bad_reply',
        error: `ClickHouse answered something that is not one JSON document (${(err as Error).message}; it begins ${JSON.stringify(text.slice(0, 40))})`,
      }
    }
    const max = req.maxRows ?? (req.stream ? STREAM_MAX_ROWS : 10_000)
    let rows = body.data.slice(0, max)
    let truncated = body.data.length > max
    let size = maxBytes === Infinity ? 0 : JSON.stringify(rows).length
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

/** Splits a reply into chunks of at most CHUNK_BYTES of JSON; the last has `done: true`. */
export function chunkReply(reply: QueryReply, maxBytes = CHUNK_BYTES): QueryChunk[] {
  if (!reply.ok) return [reply]
  const out: QueryChunk[] = []
  let rows: unknown[][] = []
  let size = 0
  for (const r of reply.rows) {
    const n = JSON.stringify(r).length + 1
    if (rows.length > 0 && size + n > maxBytes) {
      out.push({ ok: true, ...(out.length === 0 ? { columns: reply.columns } : {}), rows, done: false })
      rows = []
      size = 0
    }
    rows.push(r)
    size += n
  }
  out.push({ ok: true, ...(out.length === 0 ? { columns: reply.columns } : {}), rows, done: true, truncated: reply.truncated, elapsedMs: reply.elapsedMs })
  return out
}

/**
 * The read-only query service that `ben up` runs on `<prefix>.svc.query`: the embedded
 * ClickHouse can be opened by one process only, so other `ben` commands query through it.
 * Queries run one at a time on the reader session (chDB sessions are not made for concurrent
 * queries); a streamed request is answered in chunks and an empty message.
 */
export function serveQueries(nc: NatsConnection, client: ClickHouseClient, subject: string): Subscription {
  let queue: Promise<unknown> = Promise.resolve()
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
      queue = queue.then(() =>
        runReadOnlyQuery(client, req).then((reply) => {
          if (!req.stream) return void msg.respond(JSON.stringify(reply))
          for (const c of chunkReply(reply)) msg.respond(JSON.stringify(c))
          msg.respond(new Uint8Array(0))
        }),
      )
    },
  })
}

export const querySubject = (prefix: string): string => `${prefix}.svc.query`
