import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { InfraError } from './errors.js'
import { isSameProcess, selfIdentity, type ProcessIdentity } from './process-identity.js'

export interface UpLock {
  release(): void
}

/**
 * One `ben up` per BEN_HOME: `$BEN_HOME/up.lock`, created exclusively at the very start (before
 * any server), naming this process by pid and start time. A lock whose process is gone, or whose
 * pid now belongs to another process (a different start time), is stale and taken over; nothing
 * is ever signalled on its account.
 */
export function acquireUpLock(file: string, home: string): UpLock {
  const self = selfIdentity()
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o644)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = read(file)
      if (holder && holder.pid !== self.pid && isSameProcess(holder)) {
        throw new InfraError('store_locked', `ben up is already running for BEN_HOME=${home} (pid ${holder.pid}); stop it first or use another BEN_HOME`)
      }
      rmSync(file, { force: true })
      continue
    }
    try {
      writeSync(fd, JSON.stringify(self) + '\n')
    } finally {
      closeSync(fd)
    }
    return {
      release() {
        const now = read(file)
        if (now && now.pid === self.pid && now.startTime === self.startTime) rmSync(file, { force: true })
      },
    }
  }
  throw new InfraError('store_locked', `could not take ${file}: another ben up keeps re-creating it`)
}

/** The `ben up` holding the lock, if it is proven alive. */
export function upLockHolder(file: string): ProcessIdentity | undefined {
  const h = read(file)
  return h && isSameProcess(h) ? h : undefined
}

function read(file: string): ProcessIdentity | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as ProcessIdentity
    return typeof v?.pid === 'number' ? v : undefined
  } catch {
    return undefined
  }
}
