import { readFileSync, writeFileSync } from 'node:fs'

/**
 * BENCH_PROFILE=file.cpuprofile: a CPU profile of `run` when `on` (the phase a bench chooses to
 * profile), written for Chrome DevTools or `node --cpu-prof`'s viewers; otherwise just `run`.
 */
export async function profiled<T>(on: boolean, run: () => Promise<T>): Promise<T> {
  const file = process.env.BENCH_PROFILE
  if (!on || !file) return run()
  const { Session } = await import('node:inspector/promises')
  const s = new Session()
  s.connect()
  await s.post('Profiler.enable')
  await s.post('Profiler.start')
  const r = await run()
  const { profile } = await s.post('Profiler.stop')
  writeFileSync(file, JSON.stringify(profile))
  s.disconnect()
  return r
}

/** utime + stime of a process in seconds (Linux /proc; clock ticks are 100 a second). */
export function procCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
