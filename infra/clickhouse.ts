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
  // Read by chDB's jemalloc once, when the library loads (the import below).
  process.env.JE_MALLOC_CONF ??= CHDB_MALLOC_CONF
  try {
    ;({ createChdbConnection } = (await import('chdb/connection')) as { createChdbConnection: (o: { path: string }) => unknown })
  } catch (cause) {
    throw new InfraError('clickhouse_unreachable', `the embedded ClickHouse (npm package chdb) could not be loaded: ${(cause as Error).message}`, { cause })
  }
  const client = createClient({ connection: createChdbConnection({ path }) } as Parameters<typeof createClient>[0])
  return wrap(client, 'embedded', path)
}

/**
 * jemalloc's settings inside the embedded ClickHouse, unless the operator set JE_MALLOC_CONF:
 * freed pages are given back to the kernel after 30 s unused instead of chDB's built-in 5 s. The
 * background merges of the projections' small parts allocate and free megabytes every few seconds;
 * with 5 s, jemalloc gives those pages back between merges and the next merge faults them in
 * again, which on this project's machine (a paravirtualised VM) costs 11–17 µs a page. Over 60 s of
 * bench:latency's bursty load (2 runs each), chDB's merge threads took 63,000–71,000 page faults
 * with the built-in setting and 23,000–26,000 with this one.
 */
const CHDB_MALLOC_CONF = 'dirty_decay_ms:30000'

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
