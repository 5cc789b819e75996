import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { sqlString } from './projector.js'

/**
 * A part ClickHouse moved aside (system.detached_parts): on start a part whose files do not
 * match their checksums is detached as `broken-on-start_…` and its rows silently leave the
 * table. The facts are still in JetStream: `ben rebuild <table>` projects them again.
 */
export interface DetachedPart {
  readonly table: string
  readonly name: string
  /** `broken-on-start`, `unexpected`, `ignored`, … or '' for a part detached by hand. */
  readonly reason: string
  /** Rows in the part when it can be read (`count.txt` of a local part); null otherwise. */
  readonly rows: number | null
  readonly bytes: number
}

/** The detached parts of the current database, optionally of one table. */
export async function detachedParts(client: ClickHouseClient, table?: string): Promise<DetachedPart[]> {
  const rs = await client.query({
    query: `SELECT table, name, reason, path, bytes_on_disk FROM system.detached_parts WHERE database = currentDatabase()${table ? ` AND table = ${sqlString(table)}` : ''} ORDER BY table, name`,
    format: 'JSONEachRow',
  })
  const rows = await rs.json<{ table: string; name: string; reason: string | null; path: string; bytes_on_disk: number | string }>()
  return rows.map((r) => ({ table: r.table, name: r.name, reason: r.reason ?? '', rows: countOf(r.path), bytes: Number(r.bytes_on_disk) }))
}

function countOf(path: string): number | null {
  try {
    const n = Number(readFileSync(join(path, 'count.txt'), 'utf8').trim())
    return Number.isSafeInteger(n) ? n : null
  } catch {
    return null
  }
}

/** Removes detached parts once their rows have been projected again. */
export async function dropDetachedParts(client: ClickHouseClient, table: string, names: readonly string[]): Promise<void> {
  for (const n of names) {
    await client.command({ query: `ALTER TABLE ${table} DROP DETACHED PART ${sqlString(n)}`, clickhouse_settings: { allow_drop_detached: 1 } })
  }
}

/** One line per table: what was moved aside and what to do. */
export function describeDetached(parts: readonly DetachedPart[]): string[] {
  const byTable = new Map<string, DetachedPart[]>()
  for (const p of parts) byTable.set(p.table, [...(byTable.get(p.table) ?? []), p])
  return [...byTable].map(([table, ps]) => {
    const rows = ps.every((p) => p.rows !== null) ? `${ps.reduce((a, p) => a + (p.rows ?? 0), 0)} rows` : 'rows unknown'
    return `ClickHouse table ${table}: ${ps.length} detached part${ps.length === 1 ? '' : 's'} (${ps.map((p) => `${p.name}${p.reason ? `, ${p.reason}` : ''}`).join('; ')}; ${rows}) are missing from the projection; re-project them from JetStream with \`ben rebuild ${table}\``
  })
}
