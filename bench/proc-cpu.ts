/**
 * CPU time of processes from Linux /proc, for benches that report CPU per fact of Ben's
 * processes and of the nats-server side by side.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** utime + stime of a process in seconds (Linux /proc; clock ticks are 100 a second); 0 once it is gone. */
export function procCpu(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/** The pids whose parent is `parent` (from /proc/<pid>/stat field 4), with their command name. */
export function childrenOf(parent: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const f = readFileSync(`/proc/${name}/stat`, 'utf8')
      const close = f.lastIndexOf(')')
      const ppid = Number(f.slice(close + 2).split(' ')[1])
      if (ppid === parent) out.push({ pid: Number(name), comm: f.slice(f.indexOf('(') + 1, close) })
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** The worker processes (`ben run --worker-id …`, as `ben up --workers N` starts them) among the children of `parent`. */
export function workerPidsOf(parent: number): number[] {
  return childrenOf(parent)
    .map((c) => c.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--worker-id')
      } catch {
        return false
      }
    })
}

/** This process's CPU seconds (user + system). */
/** CPU seconds of this process's main thread only (the thread that runs Ben's stages in `ben up`); NaN without /proc. */
export function mainThreadCpu(): number {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

export function selfCpu(): number {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1e6
}

/** Write system calls a process made so far (syscw of /proc/<pid>/io; sockets and files); 0 once it is gone. */
export function procWrites(pid: number): number {
  try {
    const m = /syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}
