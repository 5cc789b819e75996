import { afterAll, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { join } from 'node:path'
import { createLogger, DEFAULT_NATS_NICE, natsServerEnv, startNatsServer, SupervisedNats } from '../infra/index.js'
import { tempDir, waitFor } from './support/servers.js'

/** Each thread's nice value, from /proc (field 19 of its stat line, after the command's parentheses). */
const threadNices = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })

/** The nice of the process's autogroup, when the kernel has autogroup scheduling. */
const autogroupNice = (pid: number): number | undefined => {
  const file = `/proc/${pid}/autogroup`
  if (!existsSync(file)) return undefined
  return Number(/nice (-?\d+)/.exec(readFileSync(file, 'utf8'))?.[1])
}

/** The stores of the servers these tests start, removed at the end. */
const dirs: Array<{ remove(): void }> = []
afterAll(() => {
  for (const d of dirs) d.remove()
})

/**
 * The embedded nats-server runs above Ben's stages (issue 8, the alert lane under a flood): its
 * threads and its scheduling group get BEN_NATS_NICE, -20 by default. Where the process may not
 * raise a priority (no CAP_SYS_NICE), the server runs at Ben's priority and the log says why.
 */
describe('the priority of the nats-server Ben starts', () => {
  it('is set on every thread and on its autogroup, again after a restart, and logged', async () => {
    const dir = tempDir('ben-nats-nice-')
    dirs.push(dir)
    const logFile = join(dir.path, 'ben.log')
    const sup = await SupervisedNats.start({ storeDir: join(dir.path, 'nats'), log: createLogger({ file: logFile, level: 'info' }), minBackoffMs: 50 })
    try {
      const lines = () =>
        existsSync(logFile)
          ? readFileSync(logFile, 'utf8')
              .split('\n')
              .filter((l) => l.includes('embedded nats-server: priority'))
          : []
      const line = await waitFor('the priority line in the log', () => lines()[0], 30_000)
      const logged = JSON.parse(line) as { nice: number; threads: number; error?: string }
      expect(logged.nice).toBe(DEFAULT_NATS_NICE)
      // Each part is refused on its own (a negative nice needs CAP_SYS_NICE; /proc may be read-only):
      // what was refused is left at this process's priority, with the kernel's reason.
      const threadsRefused = /threads:/.test(logged.error ?? '')
      const groupRefused = /autogroup:/.test(logged.error ?? '')
      if (logged.error) expect(logged.error).toMatch(/EACCES|EPERM|EROFS|permission|read-only/i)
      const check = (pid: number) => {
        const want = threadsRefused ? getPriority(0) : DEFAULT_NATS_NICE
        expect(
          threadNices(pid).every((n) => n === want),
          `threads of ${pid}: ${threadNices(pid).join(',')}`,
        ).toBe(true)
        const group = autogroupNice(pid)
        if (group !== undefined && !groupRefused) expect(group).toBe(DEFAULT_NATS_NICE)
      }
      check(sup.pid)
      expect(logged.threads > 0).toBe(!threadsRefused)
      // A restarted server (kill -9) comes back at the same priority.
      const first = sup.pid
      process.kill(first, 'SIGKILL')
      await waitFor('the server to be started again', () => (sup.restarts > 0 && sup.pid !== first ? true : undefined), 60_000)
      check(sup.pid)
    } finally {
      await sup.stop()
    }
  })

  it('is left alone with nice 0', async () => {
    const dir = tempDir('ben-nats-nice0-')
    dirs.push(dir)
    const server = await startNatsServer({ storeDir: join(dir.path, 'nats'), nice: 0 })
    try {
      expect(server.priority).toBeUndefined()
      expect(threadNices(server.pid).every((n) => n === getPriority(0))).toBe(true)
    } finally {
      await server.stop()
    }
  })
})

/** The process's environment, from /proc. */
const environ = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')

describe('the environment of the nats-server Ben starts', () => {
  it("has Go hand freed memory back with MADV_FREE, unless the operator's GODEBUG says otherwise", async () => {
    const dir = tempDir('ben-nats-env-')
    dirs.push(dir)
    const server = await startNatsServer({ storeDir: join(dir.path, 'nats'), nice: 0 })
    try {
      const godebug = environ(server.pid).find((v) => v.startsWith('GODEBUG='))
      if (process.env.GODEBUG?.includes('madvdontneed=')) expect(godebug).toBe(`GODEBUG=${process.env.GODEBUG}`)
      else expect(godebug).toMatch(/^GODEBUG=(.+,)?madvdontneed=0$/)
    } finally {
      await server.stop()
    }
  })

  it("keeps an operator's GODEBUG and adds to it", () => {
    expect(natsServerEnv({}).GODEBUG).toBe('madvdontneed=0')
    expect(natsServerEnv({ GODEBUG: 'gctrace=1', PATH: '/bin' })).toEqual({ GODEBUG: 'gctrace=1,madvdontneed=0', PATH: '/bin' })
    expect(natsServerEnv({ GODEBUG: 'gctrace=1, madvdontneed=1' }).GODEBUG).toBe('gctrace=1, madvdontneed=1')
    expect(natsServerEnv({ GODEBUG: 'madvdontneed=1' }).GODEBUG).toBe('madvdontneed=1')
  })
})
