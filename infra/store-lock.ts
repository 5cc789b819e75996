import { openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, closeSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { InfraError } from './errors.js'
import { inspectProcess, isSameProcess, runsNatsServer, selfIdentity, stopProcess, type ProcessIdentity } from './process-identity.js'

/** What `<storeDir>/server.lock` records: who owns the store and which nats-server serves it. */
export interface StoreLockRecord {
  readonly owner: ProcessIdentity
  readonly server?: ProcessIdentity
  readonly port?: number
  readonly storeDir: string
}

export interface StoreLock {
  /** Records the running server (after it started). */
  record(r: StoreLockRecord): void
  /** Removes the lock if it is still ours. */
  release(): void
}

export const STORE_LOCK = 'server.lock'

/**
 * One nats-server per JetStream store. The lock file is created exclusively (O_EXCL) and names
 * its owner (the process that starts servers on this store) and the server, each by pid and
 * start time. An existing lock is:
 * - refused when its owner is alive (another `ben up`, or this process's own live server);
 * - taken over when its owner is gone, after stopping the server it names, but only when that
 *   pid is proven to be the same nats-server (start time, and a command line naming this store);
 *   an unrelated process that got the pid is never signalled.
 * A nats-server on this store that no lock names (started by hand, or by an older Ben) is refused
 * with its pid: stopping a server not proven ours is left to the operator.
 */
export async function acquireStoreLock(storeDir: string): Promise<StoreLock> {
  const file = join(storeDir, STORE_LOCK)
  const self = selfIdentity()
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o644)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const rec = readRecord(file)
      if (!rec) {
        // Being written by its creator right now, or a torn write: look again, then take over.
        if (attempt < 2) {
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        rmSync(file, { force: true })
        continue
      }
      const serverAlive = rec.server !== undefined && isSameProcess(rec.server, runsNatsServer(storeDir))
      const ownerAlive = isSameProcess(rec.owner)
      const ownerIsUs = rec.owner.pid === self.pid && rec.owner.startTime === self.startTime
      if (ownerAlive && (!ownerIsUs || serverAlive)) {
        throw new InfraError(
          'store_locked',
          `the JetStream store ${storeDir} is in use by process ${rec.owner.pid}${serverAlive ? ` (nats-server pid ${rec.server!.pid} on port ${rec.port})` : ''}: stop it first, or use another BEN_HOME`,
        )
      }
      if (serverAlive) {
        // Left behind by a killed owner: proven to be that nats-server on this store, so stop it.
        await stopProcess(rec.server!, runsNatsServer(storeDir))
      }
      rmSync(file, { force: true })
      continue
    }
    try {
      writeSync(fd, JSON.stringify({ owner: self, storeDir } satisfies StoreLockRecord) + '\n')
    } catch (err) {
      // A full disk: no empty lock file left behind for the next start to puzzle over.
      closeSync(fd)
      rmSync(file, { force: true })
      throw err
    }
    closeSync(fd)
    const stray = strayServers(storeDir)
    if (stray.length) {
      rmSync(file, { force: true })
      throw new InfraError(
        'store_locked',
        `nats-server pid ${stray.join(', ')} already serves the JetStream store ${storeDir} without a lock Ben wrote: a second server on the same store would corrupt it; stop that one first (kill ${stray.join(' ')})`,
      )
    }
    return {
      record(r) {
        const tmp = `${file}.${process.pid}.tmp`
        try {
          writeFileSync(tmp, JSON.stringify(r) + '\n')
          renameSync(tmp, file)
        } catch (err) {
          try {
            rmSync(tmp, { force: true })
          } catch {
            // not a file: nothing of ours to remove
          }
          throw err
        }
      },
      release() {
        const now = readRecord(file)
        if (now && now.owner.pid === self.pid && now.owner.startTime === self.startTime) rmSync(file, { force: true })
      },
    }
  }
  throw new InfraError('store_locked', `could not take the lock ${file}: another process keeps re-creating it`)
}

export function readStoreLock(storeDir: string): StoreLockRecord | undefined {
  return readRecord(join(storeDir, STORE_LOCK))
}

function readRecord(file: string): StoreLockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as StoreLockRecord
    return r && typeof r.owner?.pid === 'number' ? r : undefined
  } catch {
    return undefined
  }
}

/** nats-server processes whose command line names this store (Linux /proc; none elsewhere). */
function strayServers(storeDir: string): number[] {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return []
  }
  const matches = runsNatsServer(storeDir)
  const out: number[] = []
  for (const d of pids) {
    const p = inspectProcess(Number(d))
    if (p && matches(p.cmdline)) out.push(p.pid)
  }
  return out
}
