import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { SidecarStatus } from './types.js'

/** What the daemon writes to `$BEN_HOME/sidecar/<id>/status.json` every second. */
export type StatusFile = SidecarStatus & { readonly listen: string | null }

/** `$BEN_HOME/sidecar/<id>`: the daemon's WAL (`wal/`), status, command journal and manifest cache. */
export const sidecarHome = (home: string, id: string): string => join(home, 'sidecar', id)
export const statusPath = (home: string, id: string): string => join(sidecarHome(home, id), 'status.json')

/** Writes atomically (temp file + rename), so a reader never sees half a file. */
export function writeStatusFile(file: string, status: StatusFile): void {
  mkdirSync(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n')
  renameSync(tmp, file)
}

export function readStatusFile(file: string): StatusFile | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StatusFile
  } catch {
    return undefined
  }
}

/** Every sidecar status under `$BEN_HOME/sidecar/`, or the one named. */
export function readStatuses(home: string, id?: string): StatusFile[] {
  if (id !== undefined) {
    const s = readStatusFile(statusPath(home, id))
    return s ? [s] : []
  }
  const root = join(home, 'sidecar')
  if (!existsSync(root)) return []
  return readdirSync(root)
    .sort()
    .map((d) => readStatusFile(statusPath(home, d)))
    .filter((s): s is StatusFile => s !== undefined)
}
