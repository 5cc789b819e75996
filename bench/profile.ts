import { writeFileSync } from 'node:fs'

/**
 * BENCH_PROFILE=file.cpuprofile: a CPU profile of `run` when `on` (the phase a bench chooses to
 * profile), written for Chrome DevTools or `node --cpu-prof`'s viewers; otherwise just `run`.
 * BENCH_HEAP_PROFILE=file.heapprofile: a sampling profile of what `run` allocated, collected
 * objects included (where the garbage comes from), for the same viewers.
 */
export async function profiled<T>(on: boolean, run: () => Promise<T>): Promise<T> {
  const heapFile = process.env.BENCH_HEAP_PROFILE
  if (on && heapFile) return heapProfiled(heapFile, run)
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

async function heapProfiled<T>(file: string, run: () => Promise<T>): Promise<T> {
  const { Session } = await import('node:inspector/promises')
  const s = new Session()
  s.connect()
  await s.post('HeapProfiler.enable')
  await s.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  const r = await run()
  const { profile } = await s.post('HeapProfiler.stopSampling')
  writeFileSync(file, JSON.stringify(profile))
  s.disconnect()
  return r
}
