/**
 * CPU time of processes from Linux /proc, for benches that report CPU per fact of Ben's
 * processes and of the nats-server side by side.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** The fields of /proc/<pid>/stat after the command's parentheses (the state is the first); undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return f.slice(f.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** utime + stime of a process in seconds (Linux /proc; clock ticks are 100 a second); 0 once it is gone. */
export function procCpu(pid: number): number {
  const fields = statFields(pid)
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0
}

/**
 * Minor page faults of a process so far, all its threads (Linux /proc); 0 once it is gone. Each is
 * a page the process touched for the first time since the kernel mapped it, and on a
 * paravirtualised VM each costs 11–17 µs (bare metal: typically 0.1–0.3).
 */
export function procMinorFaults(pid: number): number {
  const fields = statFields(pid)
  return fields ? Number(fields[7]) : 0
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

/**
 * One thread's time on a CPU and in the run queue (runnable, waiting for a CPU), in seconds, from
 * /proc/<pid>/task/<tid>/schedstat (ns; the main thread's tid is the pid); NaN without it.
 */
export function threadSched(pid: number, tid = pid): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number)
    return { run: run / 1e9, wait: wait / 1e9 }
  } catch {
    return { run: NaN, wait: NaN }
  }
}

/** Idle seconds of the whole machine, all CPUs added (idle + iowait of /proc/stat's cpu line, 100 ticks a second); NaN without it. */
export function machineIdle(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].split(/\s+/)
    return (Number(cpu[4]) + Number(cpu[5])) / 100
  } catch {
    return NaN
  }
}

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

/** This process's CPU seconds (user + system). */
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
