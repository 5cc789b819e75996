import { execFileSync } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { natsServersOf, until, type BenUp } from '../../bench/faults/harness.js'
import { tempDir } from './servers.js'

/**
 * Why a small filesystem of its own (a tmpfs, which only root may mount; CI runs as root) cannot
 * be had here, or undefined when it can: probed by mounting one.
 */
export function tmpfsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`
  if (process.getuid?.() !== 0) return 'not root: mounting a tmpfs needs root'
  const dir = tempDir('ben-tmpfs-probe-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir.path], { stdio: 'pipe' })
    execFileSync('umount', [dir.path], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]}`
  } finally {
    dir.remove()
  }
}

/** Mounts a tmpfs of `size` (e.g. `64m`) on `dir`. */
export function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
}

/** Unmounts, lazily when something still holds the mount (a process killed late). */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    } catch {
      // not mounted
    }
  }
}

/**
 * Whatever a case on a tmpfs home left running is stopped, then the mount removed: `ben up` by
 * SIGINT (then SIGKILL if it has not exited within 60 s), its nats-servers by SIGKILL.
 */
export async function stopAndUnmount(up: BenUp | undefined, home: string): Promise<void> {
  if (up) {
    up.kill('SIGINT')
    let exited = false
    void up.exited.then(() => (exited = true))
    await until('ben up to exit on SIGINT', () => exited || undefined, 60_000, 250).catch(() => undefined)
    up.kill('SIGKILL')
  }
  for (const pid of natsServersOf(home)) process.kill(pid, 'SIGKILL')
  unmount(home)
}

/** Writes `file` until its filesystem is full; true when the write ended on ENOSPC. */
export function fillDisk(file: string): boolean {
  const fd = openSync(file, 'w')
  try {
    for (;;) writeSync(fd, Buffer.alloc(1 << 20))
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOSPC'
  } finally {
    closeSync(fd)
  }
}
