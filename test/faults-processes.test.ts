import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { inspectProcess, isInfraError, isSameProcess, startNatsServer } from '../infra/index.js'
import { BenUp, benCli, natsServersOf, until, workersOf, writeFleetInput } from '../bench/faults/harness.js'
import { tempDir } from './support/servers.js'

/**
 * The fault matrix, part 2: what `ben up` does to processes (its workers, orphaned and stale
 * servers, locks). These cases compare nothing with a control run, so they live apart from
 * test/faults.test.ts and the two files run side by side.
 */

describe('fault matrix: processes and locks', () => {
  const root = tempDir('ben-faults-proc-')
  const half = [join(root.path, 'a.ndjson'), join(root.path, 'b.ndjson')]
  const running: BenUp[] = []
  const strays: ChildProcess[] = []

  beforeAll(() => {
    // The same input as the fault matrix's, in two halves: the orphan case publishes them.
    const input = join(root.path, 'input.ndjson')
    writeFleetInput(input, { hosts: 2, rate: 30, durationMs: 150_000 })
    const lines = readFileSync(input, 'utf8').trimEnd().split('\n')
    writeFileSync(half[0], lines.slice(0, lines.length >> 1).join('\n') + '\n')
    writeFileSync(half[1], lines.slice(lines.length >> 1).join('\n') + '\n')
  })

  afterAll(async () => {
    for (const b of running) await b.stop().catch(() => undefined)
    for (const s of strays) s.kill('SIGKILL')
    // A server orphaned on purpose, when its case failed before the next start replaced it.
    for (const pid of natsServersOf(join(root.path, 'orphan'))) process.kill(pid, 'SIGKILL')
    root.remove()
  })

  it('stale endpoints.json and locks naming an unrelated process: ben up starts, signals nothing, takes no port from them and leaves no server behind', async () => {
    const home = join(root.path, 'stale')
    mkdirSync(join(home, 'nats'), { recursive: true })
    const bystander = spawn('sleep', ['600'], { stdio: 'ignore' })
    strays.push(bystander)
    const pid = bystander.pid!
    await until('the bystander to run', () => inspectProcess(pid), 120_000)
    const real = inspectProcess(pid)!
    // Every file names the bystander: as ben up (wrong start time), and as the nats-server
    // (its real start time, but not a nats-server command line).
    writeFileSync(
      join(home, 'endpoints.json'),
      JSON.stringify({
        natsUrl: 'nats://127.0.0.1:1',
        natsPort: 1,
        pid,
        natsPid: pid,
        clickhouse: { kind: 'embedded', location: '' },
        prefix: 'ben',
        querySubject: 'ben.svc.query',
        startedAt: '',
        version: '0',
      }),
    )
    writeFileSync(join(home, 'up.lock'), JSON.stringify({ pid, startTime: '1' }))
    writeFileSync(join(home, 'nats', 'server.lock'), JSON.stringify({ owner: { pid, startTime: '1' }, server: { pid, startTime: real.startTime }, storeDir: join(home, 'nats') }))
    const up = await BenUp.start(home)
    running.push(up)
    expect(up.endpoints().natsPid).not.toBe(pid)
    // The port is not taken from the stale file (nothing proves it was this store's server's).
    expect(up.endpoints().natsPort).not.toBe(1)
    await up.stop()
    // Every server this ben up started was stopped with it.
    expect(natsServersOf(home)).toEqual([])
    expect(bystander.exitCode).toBeNull()
    expect(bystander.signalCode).toBeNull()
    expect(isSameProcess(real)).toBe(true)
  }, 200_000)

  // One `ben up --workers 1` SIGKILLed serves two cases: its worker must not outlive it, and the
  // nats-server it leaves behind must be replaced by the next start (a start costs ~5 s of CPU).
  it('kill -9 of ben up --workers 1: its worker does not outlive it (an orphan would hold its leases and run unsupervised); the nats-server left behind is stopped (proven ours) and replaced on the same port; one server per store; a paused server makes ben publish fail in bounded time', async () => {
    const home = join(root.path, 'orphan')
    const up1 = await BenUp.start(home, {}, 90_000, { args: ['--workers', '1'] })
    running.push(up1)
    const [worker] = await until('the worker to start', () => (workersOf(home).length === 1 ? workersOf(home) : undefined), 90_000, 200)
    expect(worker.ppid).toBe(up1.pid)
    const e1 = up1.endpoints()
    up1.kill('SIGKILL')
    await up1.exited
    try {
      await until('the worker to exit after its ben up', () => (workersOf(home).some((w) => w.pid === worker.pid) ? undefined : true), 90_000, 200)
      expect(readFileSync(join(home, `worker-${worker.id}.log`), 'utf8')).toContain('the process that started this worker is gone: stopping')
    } finally {
      for (const w of workersOf(home)) process.kill(w.pid, 'SIGKILL')
    }
    const orphan = { pid: e1.natsPid!, startTime: e1.natsStartTime! }
    expect(isSameProcess(orphan)).toBe(true)
    // The orphan writes its log to a file, not to the dead ben up's pipe: it keeps serving.
    const probe = await connect({ servers: e1.natsUrl, timeout: 5000 })
    await probe.flush()
    await probe.close()
    expect(isSameProcess(orphan)).toBe(true)

    const up2 = await BenUp.start(home)
    running.push(up2)
    const e2 = up2.endpoints()
    expect(isSameProcess(orphan)).toBe(false)
    expect(e2.natsPid).not.toBe(orphan.pid)
    expect(e2.natsPort).toBe(e1.natsPort)
    expect(natsServersOf(home)).toEqual([e2.natsPid])
    const ok = await benCli(['publish', half[0]], { BEN_HOME: home })
    expect(ok.code, ok.stderr).toBe(0)

    // Outage: the server is paused (SIGSTOP). ben publish ends with a message, it does not hang.
    process.kill(e2.natsPid!, 'SIGSTOP')
    try {
      const r = await benCli(['publish', half[1]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '3000' }, 90_000)
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/NATS/)
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2)
    } finally {
      process.kill(e2.natsPid!, 'SIGCONT')
    }
    await up2.stop()
    expect(natsServersOf(home)).toEqual([])
  }, 400_000)

  it('one nats-server per store: a second start on a store whose owner is alive is refused; max_file_store is explicit', async () => {
    const dir = tempDir('ben-store-')
    const a = await startNatsServer({ storeDir: join(dir.path, 'nats'), maxFileStore: '3GB' })
    try {
      const err = await startNatsServer({ storeDir: join(dir.path, 'nats') }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isInfraError(err) && err.code).toBe('store_locked')
      expect((err as Error).message).toContain(String(a.pid))
      // Fixed by configuration, not by the free space at start; the server logs to its file.
      expect(readFileSync(join(dir.path, 'nats', 'nats-server.log'), 'utf8')).toMatch(/Max Storage:\s+3\.00 GB/)
    } finally {
      await a.stop()
      dir.remove()
    }
  })
})
