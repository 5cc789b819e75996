import type { ClickHouseClient } from '@clickhouse/client'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import type { Logger } from '../streams/index.js'
import { describeDetached, detachedParts, dropDetachedParts, type DetachedPart } from './parts.js'
import type { Projector } from './projector.js'

export const rebuildSubject = (prefix: string): string => `${prefix}.svc.rebuild`

export interface RebuildRequest {
  readonly table: string
}

export type RebuildReply =
  | {
      readonly ok: true
      readonly table: string
      readonly before: number
      readonly after: number
      readonly detached: readonly DetachedPart[]
      readonly projections: readonly string[]
    }
  | { readonly ok: false; readonly code: string; readonly error: string }

async function count(client: ClickHouseClient, table: string): Promise<number> {
  const rs = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })
  const [row] = await rs.json<{ n: number | string }>()
  return Number(row?.n ?? 0)
}

/**
 * Projects a table again from JetStream: every projector writing it pauses, the table is
 * emptied, they follow their streams from the first message, and once they have caught up the
 * detached parts of that table (whose rows are now back) are dropped. Says what was missing:
 * the rows before and after, and the detached parts found.
 */
export async function rebuildTable(
  client: ClickHouseClient,
  projectors: readonly Projector[],
  table: string,
  opts: { log?: Logger; timeoutMs?: number } = {},
): Promise<RebuildReply> {
  const mine = projectors.filter((p) => p.table === table)
  if (mine.length === 0) {
    const known = [...new Set(projectors.map((p) => p.table))].sort().join(', ')
    return { ok: false, code: 'unknown_table', error: `no projection writes a table '${table}'; tables: ${known}` }
  }
  const detached = await detachedParts(client, table)
  const before = await count(client, table)
  opts.log?.warn({ table, before, detached: detached.map((d) => d.name) }, `rebuilding ${table} from JetStream`)
  for (const p of mine) await p.pause()
  await client.command({ query: `TRUNCATE TABLE ${table}` })
  for (const p of mine) await p.replay()
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000)
  for (;;) {
    let behind = 0
    for (const p of mine) behind += await p.behind()
    if (behind === 0) break
    if (Date.now() > deadline)
      return {
        ok: false,
        code: 'timeout',
        error: `${table} is still ${behind} messages behind after ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s; it goes on catching up, run ben rebuild again to see the result`,
      }
    await new Promise((r) => setTimeout(r, 200))
  }
  for (const p of mine) await p.flush()
  const after = await count(client, table)
  if (detached.length)
    await dropDetachedParts(
      client,
      table,
      detached.map((d) => d.name),
    )
  opts.log?.warn({ table, before, after }, `rebuilt ${table}: ${after - before} rows restored`)
  return { ok: true, table, before, after, detached, projections: mine.map((p) => p.name) }
}

/** Warns about detached parts at start: rows that left a projection without a trace. */
export async function warnDetachedParts(client: ClickHouseClient, log: Logger): Promise<DetachedPart[]> {
  const parts = await detachedParts(client)
  for (const line of describeDetached(parts)) log.warn({ detached: parts.length }, line)
  return parts
}

/** `ben rebuild` asks the running `ben up` on `<prefix>.svc.rebuild`: one rebuild at a time. */
export function serveRebuilds(nc: NatsConnection, client: ClickHouseClient, subject: string, projectors: () => readonly Projector[], log?: Logger): Subscription {
  let busy: Promise<unknown> = Promise.resolve()
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return
      let req: RebuildRequest
      try {
        req = JSON.parse(new TextDecoder().decode(msg.data)) as RebuildRequest
        if (typeof req.table !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(req.table)) throw new Error('table must be a table name')
      } catch (e) {
        msg.respond(JSON.stringify({ ok: false, code: 'bad_request', error: `bad rebuild request: ${(e as Error).message}` }))
        return
      }
      busy = busy
        .then(() => rebuildTable(client, projectors(), req.table, { log }))
        .catch((e: Error) => ({ ok: false, code: 'failed', error: e.message }))
        .then((reply) => msg.respond(JSON.stringify(reply)))
    },
  })
}
