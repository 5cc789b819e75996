import type { RunQuery } from './incident-report.js'
import { sqlString } from './sql-string.js'

/**
 * `<source>\0<id>` of the given raw facts that the `facts` table already holds: a fact stored
 * as it was, or a scrubbed fact naming it in its lineage. One query, bounded by the facts'
 * sources and time range.
 */
export async function storedRawIds(run: RunQuery, facts: ReadonlyArray<{ readonly id: string; readonly source: string; readonly ts: number }>): Promise<Set<string>> {
  const found = new Set<string>()
  if (facts.length === 0) return found
  const ids = new Set<string>()
  const sources = new Set<string>()
  let from = Infinity
  let to = -Infinity
  for (const f of facts) {
    ids.add(f.id)
    sources.add(f.source)
    if (f.ts < from) from = f.ts
    if (f.ts > to) to = f.ts
  }
  const idList = [...ids].map(sqlString).join(',')
  const sql =
    `SELECT DISTINCT source, arrayJoin(if(empty(lineage), [id], lineage)) AS rid FROM facts ` +
    `WHERE source IN (${[...sources].map(sqlString).join(',')}) AND ts >= fromUnixTimestamp64Milli(toInt64(${Math.floor(from)})) AND ts <= fromUnixTimestamp64Milli(toInt64(${Math.ceil(to)})) ` +
    `AND (id IN (${idList}) OR hasAny(lineage, [${idList}]))`
  const r = await run(sql)
  for (const [source, rid] of r.rows as Array<[string, string]>) found.add(`${source}\u0000${rid}`)
  return found
}
