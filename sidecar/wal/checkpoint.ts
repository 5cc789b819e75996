/**
 * The acked position, persisted as one small JSON file: written to `checkpoint.tmp`,
 * fsynced, renamed over `checkpoint`, then the directory fsynced. A crash leaves either
 * the old or the new file whole, never a mix.
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'

export const CHECKPOINT_FILE = 'checkpoint'
const TMP_FILE = 'checkpoint.tmp'

export type CheckpointRead = { readonly state: 'ok'; readonly acked: number } | { readonly state: 'missing' | 'unreadable'; readonly acked: 0 }

const body = (acked: number): string => `{"version":1,"acked":${acked}}`

export async function readCheckpoint(dir: string): Promise<CheckpointRead> {
  let text: string
  try {
    text = await readFile(join(dir, CHECKPOINT_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', acked: 0 }
    throw err
  }
  try {
    const v = JSON.parse(text) as { version?: unknown; acked?: unknown; crc?: unknown }
    const acked = v.acked
    if (v.version !== 1 || typeof acked !== 'number' || !Number.isSafeInteger(acked) || acked < 0) return { state: 'unreadable', acked: 0 }
    if (v.crc !== crc32(body(acked))) return { state: 'unreadable', acked: 0 }
    return { state: 'ok', acked }
  } catch {
    return { state: 'unreadable', acked: 0 }
  }
}

export async function writeCheckpoint(dir: string, acked: number): Promise<void> {
  const tmp = join(dir, TMP_FILE)
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(`{"version":1,"acked":${acked},"crc":${crc32(body(acked))}}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE))
  await syncDir(dir)
}

/** Drops a temp file left by a crash between write and rename. */
export async function removeCheckpointTemp(dir: string): Promise<void> {
  await rm(join(dir, TMP_FILE), { force: true })
}

/** fsync on the directory, so that a create, rename or unlink in it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
