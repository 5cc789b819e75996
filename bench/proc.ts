import { readFileSync } from 'node:fs'

/** CPU time (user + system) a process has used, in ms (Linux /proc; clock ticks are 100 a second). */
export function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}
