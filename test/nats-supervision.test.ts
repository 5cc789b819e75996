import { afterAll, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findNatsServer, inspectProcess, isSameProcess, silentLogger, startNatsServer, SupervisedNats, type ProcessIdentity } from '../infra/index.js'
import { spawn } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { BEN_JS, natsServersOf } from '../bench/faults/harness.js'
import { packageRoot } from '../schemas/index.js'
import { tempDir, waitFor } from './support/servers.js'

/**
 * Every nats-server that Ben spawns is stopped by Ben, whatever happened to its start: the
 * disk-full case of the fault matrix once left one behind after `ben up` had stopped, because a
 * start that failed after the spawn (the store lock could not be recorded on the full disk) did
 * not stop the server it had spawned, and the supervisor's last-resort stop knew only the server
 * it had finished starting.
 */
describe('nats-server processes Ben starts never outlive it', () => {
  const dirs: Array<{ remove(): void }> = []
  const strays: ProcessIdentity[] = []
  afterAll(() => {
    for (const id of strays) if (isSameProcess(id)) process.kill(id.pid, 'SIGKILL')
    for (const d of dirs) d.remove()
  })

  it('a start that fails after the server was spawned (its lock record cannot be written) stops that server', async () => {
    const dir = tempDir('ben-spawn-fail-')
    dirs.push(dir)
    const store = join(dir.path, 'nats')
    mkdirSync(store)
    // The lock record is written to `server.lock.<pid>.tmp`, then renamed: a directory there makes
    // the write fail the way a full disk does, after the server is up.
    mkdirSync(join(store, `server.lock.${process.pid}.tmp`))
    const err = await startNatsServer({ storeDir: store }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err?.message).toMatch(/EISDIR|directory/)
    for (const pid of natsServersOf(dir.path)) strays.push(inspectProcess(pid)!)
    expect(natsServersOf(dir.path)).toEqual([])
  })

  it('a process that ends without stopping its server (an uncaught exception) takes the server along', async () => {
    const dir = tempDir('ben-owner-throws-')
    dirs.push(dir)
    const infra = JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'infra', 'index.js')).href)
    const store = JSON.stringify(join(dir.path, 'nats'))
    // What a bench did when its feed's result could not be read: it threw, its server still running.
    const code = `const { startNatsServer } = await import(${infra}); const s = await startNatsServer({ storeDir: ${store} }); console.log(s.pid); setImmediate(() => { throw new Error('the bench failed') })`
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const exitCode = await new Promise<number | null>((r) => child.once('close', (c) => r(c)))
    const pid = Number(out.trim())
    expect(pid, err).toBeGreaterThan(0)
    expect(exitCode).toBe(1)
    expect(err).toMatch(/the bench failed/)
    // Gone when its owner is: the hook waits for it (SIGTERM, then SIGKILL after 2 s).
    expect(natsServersOf(dir.path)).toEqual([])
  })

  it('the last-resort stop (terminate) also ends a server a restart is still starting', async () => {
    const dir = tempDir('ben-held-restart-')
    dirs.push(dir)
    // A nats-server that, once `hold` exists, never answers (it becomes `sleep`), and notes each pid.
    const bin = join(dir.path, 'bin', 'nats-server')
    mkdirSync(join(dir.path, 'bin'))
    writeFileSync(bin, `#!/bin/sh\necho $$ >> '${dir.path}/spawned'\n[ -e '${dir.path}/hold' ] && exec sleep 600\nexec '${findNatsServer()}' "$@"\n`)
    chmodSync(bin, 0o755)
    const spawned = () => (existsSync(join(dir.path, 'spawned')) ? readFileSync(join(dir.path, 'spawned'), 'utf8').trim().split('\n').map(Number) : [])
    const sup = await SupervisedNats.start({ storeDir: join(dir.path, 'nats'), bin, log: silentLogger(), minBackoffMs: 50 })
    const first = sup.identity
    try {
      writeFileSync(join(dir.path, 'hold'), '')
      process.kill(first.pid, 'SIGKILL')
      const pid = await waitFor('the restart to spawn its server', () => spawned()[1], 60_000)
      const held = await waitFor('the held server to be inspectable', () => inspectProcess(pid), 120_000)
      strays.push(held)
      expect(isSameProcess(held)).toBe(true)
      sup.terminate()
      // Synchronous: when terminate returns, the server being started is gone too.
      expect(isSameProcess(held)).toBe(false)
      expect(isSameProcess(first)).toBe(false)
    } finally {
      await sup.stop()
    }
  })

  it('a Ctrl-C while ben up is still starting stops the nats-server it has already spawned', async () => {
    const dir = tempDir('ben-early-sigint-')
    dirs.push(dir)
    const home = join(dir.path, 'home')
    const child = spawn(process.execPath, [BEN_JS, 'up'], {
      env: { ...process.env, BEN_HOME: home, BEN_NO_CONTAINERS: '1', XDG_CONFIG_HOME: join(dir.path, 'config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (out += b.toString()))
    // 'close', not 'exit': at 'exit' its last lines ("stopped.") may not be read yet.
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
    // The moment its server exists, ben up has not finished starting (connection, topology, chDB).
    const pid = await waitFor('ben up to spawn its nats-server', () => natsServersOf(home)[0], 120_000, 20)
    const server = inspectProcess(pid)
    if (server) strays.push(server)
    child.kill('SIGINT')
    await exited
    expect(natsServersOf(home), out).toEqual([])
    expect(out).toMatch(/stopping once started|stopped\./)
  }, 240_000)
})
