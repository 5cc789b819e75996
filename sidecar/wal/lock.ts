/**
 * One writer per directory: a `LOCK` file created exclusively, holding the owner's pid.
 * A lock whose pid is no longer alive (the owner was killed) is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { WalError, WalErrorCode } from './errors.js'

export const LOCK_FILE = 'LOCK'
const heldHere = new Set<string>()

export interface DirLock {
  release(): Promise<void>
}

export async function lockDir(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  if (heldHere.has(path)) throw locked(dir, process.pid)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx')
      try {
        await fh.writeFile(`${process.pid}\n`)
      } finally {
        await fh.close()
      }
      heldHere.add(path)
      return {
        async release() {
          heldHere.delete(path)
          await rm(path, { force: true })
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw locked(dir, pid)
      // Stale: its owner is gone (or it was ours from an earlier open that was never closed).
      await rm(path, { force: true })
    }
  }
  throw locked(dir, undefined)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const locked = (dir: string, pid: number | undefined): WalError =>
  new WalError(
    WalErrorCode.Locked,
    `WAL directory ${dir} is in use by ${pid === undefined ? 'another process' : `process ${pid}`}: stop that process (or close the other Wal) first; each directory has one writer`,
  )
