import { readFileSync } from 'node:fs'

/**
 * A process named by more than its pid: pids are reused, so a pid read from a file proves
 * nothing. The start time (clock ticks since boot, field 22 of /proc/<pid>/stat) does not
 * repeat for one pid while the machine is up; with the command line it tells our process from
 * an unrelated one that got the same pid.
 */
export interface ProcessIdentity {
  readonly pid: number
  /** Field 22 of /proc/<pid>/stat, as text (it can exceed 2^53 only in theory, but stays exact). */
  readonly startTime: string
}

export interface ProcessInfo extends ProcessIdentity {
  /** argv of the process (from /proc/<pid>/cmdline). */
  readonly cmdline: readonly string[]
}

/** What /proc says about a pid now; undefined when it does not exist or /proc is unreadable. */
export function inspectProcess(pid: number): ProcessInfo | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); starttime is field 22.
    const startTime = fields[19]
    if (!startTime || fields[0] === 'Z') return undefined
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s) => s.length > 0)
    return { pid, startTime, cmdline }
  } catch {
    return undefined
  }
}

/** This process's identity (for lock files other processes will check). */
export function selfIdentity(): ProcessIdentity {
  const me = inspectProcess(process.pid)
  return { pid: process.pid, startTime: me?.startTime ?? 'unknown' }
}

/**
 * True only when the recorded process is still the one running under that pid: same start
 * time and, when given, a command line that passes `expect`. Anything that cannot be proven
 * (no /proc, unknown start time, a different program) is false: callers never signal it.
 */
export function isSameProcess(id: Partial<ProcessIdentity> | undefined, expect?: (cmdline: readonly string[]) => boolean): boolean {
  if (!id?.pid || !id.startTime || id.startTime === 'unknown') return false
  const now = inspectProcess(id.pid)
  if (!now || now.startTime !== id.startTime) return false
  return expect ? expect(now.cmdline) : true
}

/** The command line is a nats-server serving this store: an argument is the store or a file in it (`-sd`, `-c <store>/ben-nats.conf`). */
export const runsNatsServer =
  (storeDir: string) =>
  (cmdline: readonly string[]): boolean =>
    cmdline.length > 0 && /(^|\/)nats-server$/.test(cmdline[0]) && cmdline.some((a) => a === storeDir || a.startsWith(`${storeDir}/`))

/** The command line is a Node.js process running Ben (`ben.js`, a test runner, or dist code). */
export const runsNode = (cmdline: readonly string[]): boolean => cmdline.length > 0 && /(^|\/)(node|nodejs)(\d+)?$/.test(cmdline[0])

/**
 * Signals a process only when it is proven to be the recorded one. Returns false (and sends
 * nothing) otherwise.
 */
export function signalIfSame(id: ProcessIdentity, signal: NodeJS.Signals, expect?: (cmdline: readonly string[]) => boolean): boolean {
  if (!isSameProcess(id, expect)) return false
  try {
    process.kill(id.pid, signal)
    return true
  } catch {
    return false
  }
}

/**
 * For a process about to exit, which cannot wait on timers: SIGTERM, up to `graceMs` for it to
 * go (blocking), then SIGKILL. A nats-server wedged after a full disk ignores SIGTERM and would
 * otherwise outlive the ben up that started it.
 */
export function terminateSync(id: ProcessIdentity, graceMs = 2000): void {
  terminateAllSync([id], { graceMs })
}

/**
 * `terminateSync` for several processes at once (one grace period for all). `kill: true` skips
 * SIGTERM (a process known to ignore it). Returns once every one is gone, or after a bounded
 * wait for the SIGKILLed ones to be taken down by the kernel.
 */
export function terminateAllSync(ids: readonly ProcessIdentity[], opts: { graceMs?: number; kill?: boolean } = {}): void {
  const nap = new Int32Array(new SharedArrayBuffer(4))
  const alive = () => ids.filter((id) => isSameProcess(id))
  const waitGone = (ms: number) => {
    const deadline = Date.now() + ms
    while (Date.now() < deadline && alive().length > 0) Atomics.wait(nap, 0, 0, 20)
  }
  if (!opts.kill) {
    if (!ids.map((id) => signalIfSame(id, 'SIGTERM')).some(Boolean)) return
    waitGone(opts.graceMs ?? 2000)
  }
  for (const id of alive()) signalIfSame(id, 'SIGKILL')
  waitGone(2000)
}

/** Stops a proven process: SIGTERM, then SIGKILL after `graceMs`. Resolves when it is gone (or was never ours). */
export async function stopProcess(id: ProcessIdentity, expect: (cmdline: readonly string[]) => boolean, graceMs = 5000): Promise<boolean> {
  if (!signalIfSame(id, 'SIGTERM', expect)) return false
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && isSameProcess(id)) await new Promise((r) => setTimeout(r, 50))
  if (isSameProcess(id)) signalIfSame(id, 'SIGKILL')
  for (let i = 0; i < 100 && isSameProcess(id); i++) await new Promise((r) => setTimeout(r, 50))
  return true
}
