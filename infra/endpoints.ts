import { readFileSync, writeFileSync, renameSync, rmSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

/** What a running `ben up` records under $BEN_HOME so other `ben` commands find it. */
export interface Endpoints {
  readonly natsUrl: string
  readonly natsPort: number
  /** pid of `ben up`. */
  readonly pid: number
  /** Start time of `ben up` (field 22 of /proc/<pid>/stat): proves the pid is still it. */
  readonly startTime?: string
  /** pid of the nats-server it started (embedded default), if any. */
  readonly natsPid?: number
  /** Start time of that nats-server: nothing signals `natsPid` unless it still matches. */
  readonly natsStartTime?: string
  /** `ben up --cluster N`: every node (natsUrl then lists all their URLs, comma-separated). */
  readonly natsNodes?: ReadonlyArray<{ readonly url: string; readonly pid: number; readonly startTime: string }>
  readonly clickhouse: { readonly kind: 'embedded' | 'server'; readonly location: string }
  readonly prefix: string
  /** Subject of the read-only query service. */
  readonly querySubject: string
  readonly startedAt: string
  readonly version: string
}

export function readEndpoints(file: string): Endpoints | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Endpoints
  } catch {
    return undefined
  }
}

export function writeEndpoints(file: string, e: Endpoints): void {
  mkdirSync(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(e, null, 2) + '\n')
  renameSync(tmp, file)
}

export function removeEndpoints(file: string, pid = process.pid): void {
  const e = readEndpoints(file)
  if (e && e.pid !== pid) return
  rmSync(file, { force: true })
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
