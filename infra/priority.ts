import { readdirSync, writeFileSync } from 'node:fs'
import { setPriority } from 'node:os'

/** What `prioritiseProcess` could do. */
export interface PriorityOutcome {
  /** The nice value asked for. */
  readonly nice: number
  /** Threads whose nice was set. */
  readonly threads: number
  /** Whether the process's scheduling group (Linux autogroup, `/proc/<pid>/autogroup`) took the value. */
  readonly autogroup: boolean
  /** Why not everything was set (a negative nice needs CAP_SYS_NICE), if it was not. */
  readonly error?: string
}

/**
 * Sets a child process's CPU priority: the nice value of each of its threads and, on Linux with
 * autogroup scheduling (`kernel.sched_autogroup_enabled`), of its scheduling group.
 *
 * Both, because either may be what the kernel uses. With autogroup, a process started in a new
 * session (a detached child: setsid) is a group of its own, and CPU time is shared between
 * groups first: a thread's nice then ranks it inside its group only, against nothing else. Without
 * autogroup (or in one group), the threads' nice values are compared directly. Threads the process
 * creates later inherit their creator's value.
 */
export function prioritiseProcess(pid: number, nice: number): PriorityOutcome {
  let threads = 0
  let autogroup = false
  const errors: string[] = []
  let tids: number[]
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number)
  } catch {
    tids = [pid] // no /proc: the process's own priority is all there is to set
  }
  for (const tid of tids) {
    try {
      setPriority(tid, nice)
      threads++
    } catch (err) {
      // A thread that ended since the listing is not an error; a refusal is (said once).
      if (!/ESRCH/.test((err as Error).message) && errors.length === 0) errors.push(`threads: ${(err as Error).message}`)
    }
  }
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice))
    autogroup = true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') errors.push(`autogroup: ${(err as Error).message}`)
  }
  return { nice, threads, autogroup, ...(errors.length ? { error: errors.join('; ') } : {}) }
}
