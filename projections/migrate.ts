import type { ClickHouseClient } from '@clickhouse/client'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../schemas/index.js'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export class MigrationError extends Error {
  override name = 'MigrationError'
  constructor(
    readonly code: 'checksum_mismatch' | 'bad_file' | 'failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** `projections/migrations/NNN_name.sql`, in order. */
export function loadMigrations(dir = join(packageRoot(), 'projections', 'migrations')): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const m = /^(\d+)_([\w-]+)\.sql$/.exec(f)
      if (!m) throw new MigrationError('bad_file', `migration file ${f} must be named NNN_name.sql`)
      const sql = readFileSync(join(dir, f), 'utf8')
      return { version: Number(m[1]), name: m[2], sql, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16) }
    })
}

/** Splits a file into statements on `;` at line ends, dropping `--` comment lines. */
export function statements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/**
 * Applies the migrations not yet recorded in `ben_migrations`, in order. Idempotent: a second
 * run applies nothing. A recorded migration whose file changed is refused (write a new one).
 */
export async function migrate(client: ClickHouseClient, migrations = loadMigrations()): Promise<{ applied: number[] }> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ben_migrations (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree ORDER BY version`,
  })
  const rs = await client.query({ query: 'SELECT version, checksum FROM ben_migrations FINAL', format: 'JSONEachRow' })
  const done = new Map((await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]))
  const applied: number[] = []
  for (const m of migrations) {
    const seen = done.get(m.version)
    if (seen !== undefined) {
      if (seen !== m.checksum) {
        throw new MigrationError(
          'checksum_mismatch',
          `migration ${m.version}_${m.name} changed after it was applied (checksum ${seen} → ${m.checksum}); add a new migration instead`,
        )
      }
      continue
    }
    for (const stmt of statements(m.sql)) {
      try {
        await client.command({ query: stmt })
      } catch (cause) {
        throw new MigrationError('failed', `migration ${m.version}_${m.name} failed: ${(cause as Error).message}`, { cause })
      }
    }
    await client.insert({ table: 'ben_migrations', values: [{ version: m.version, name: m.name, checksum: m.checksum }], format: 'JSONEachRow' })
    applied.push(m.version)
  }
  return { applied }
}
