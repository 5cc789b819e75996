import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { mkdirSync } from 'node:fs'
import { InfraError } from './errors.js'

export interface ClickHouseTarget {
  /** A ClickHouse server URL; when absent, the embedded engine (chDB) under `path`. */
  readonly url?: string
  readonly user?: string
  readonly password?: string
  readonly database?: string
  /** chDB data directory (embedded). */
  readonly path?: string
}

export interface Warehouse {
  readonly client: ClickHouseClient
  readonly kind: 'embedded' | 'server'
  /** Where the data is: a URL or a directory. */
  readonly location: string
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Opens ClickHouse: a server when a URL is given, otherwise ClickHouse embedded in this
 * process through chDB (`chdb/connection` plugged into `@clickhouse/client`): same SQL, same
 * client API. The embedded store can be opened by one process only.
 */
export async function openClickHouse(target: ClickHouseTarget): Promise<Warehouse> {
  if (target.url) {
    const client = createClient({ url: target.url, username: target.user, password: target.password, database: target.database })
    const ping = await client.ping()
    if (!ping.success) {
      await client.close()
      throw new InfraError('clickhouse_unreachable', `ClickHouse at ${redact(target.url)} did not answer: ${(ping as { error?: Error }).error?.message ?? 'no reply'}`)
    }
    return wrap(client, 'server', redact(target.url))
  }
  const path = target.path
  if (!path) throw new InfraError('bad_config', 'embedded ClickHouse needs a data directory (BEN_HOME)')
  mkdirSync(path, { recursive: true })
  let createChdbConnection: (o: { path: string }) => unknown
  try {
    ;({ createChdbConnection } = (await import('chdb/connection')) as { createChdbConnection: (o: { path: string }) => unknown })
  } catch (cause) {
    throw new InfraError('clickhouse_unreachable', `the embedded ClickHouse (npm package chdb) could not be loaded: ${(cause as Error).message}`, { cause })
  }
  const client = createClient({ connection: createChdbConnection({ path }) } as Parameters<typeof createClient>[0])
  return wrap(client, 'embedded', path)
}

function wrap(client: ClickHouseClient, kind: Warehouse['kind'], location: string): Warehouse {
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await client.close()
  }
  return { client, kind, location, close, [Symbol.asyncDispose]: close }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}
