import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { isSameProcess } from '../infra/index.js'
import { BenUp, benCli, compare, natsOf, natsServersOf, settle, shareKeys, until, writeFleetInput, type Snapshot } from '../bench/faults/harness.js'
import { duplicateWindowPassed, tempDir } from './support/servers.js'
import { fillDisk, mountTmpfs, stopAndUnmount, tmpfsSkipReason } from './support/tmpfs.js'

// A full disk needs a small filesystem of its own (a tmpfs); when one cannot be mounted the case
// says why it is skipped.
const diskFullSkip = tmpfsSkipReason()
if (diskFullSkip) console.warn(`fault matrix: the disk-full case is skipped: ${diskFullSkip}`)

/**
 * The fault matrix (short cases; `npm run chaos` runs the long, random campaign). Each case runs
 * `ben up` as a child process against a real nats-server and chDB, injects one fault, and
 * compares what Ben stored and derived with an uninterrupted control run on the same input.
 * The cases about processes and locks, which need no control run, are in faults-processes.test.ts.
 */

describe('fault matrix', () => {
  const root = tempDir('ben-faults-')
  const input = join(root.path, 'input.ndjson')
  const half = [join(root.path, 'a.ndjson'), join(root.path, 'b.ndjson')]
  let total = 0
  let control: Snapshot
  let controlMessages = 0
  const controlHome = join(root.path, 'control')
  const running: BenUp[] = []

  beforeAll(async () => {
    total = writeFleetInput(input, { hosts: 2, rate: 30, durationMs: 150_000 })
    const lines = readFileSync(input, 'utf8').trimEnd().split('\n')
    writeFileSync(half[0], lines.slice(0, lines.length >> 1).join('\n') + '\n')
    writeFileSync(half[1], lines.slice(lines.length >> 1).join('\n') + '\n')
    const up = await BenUp.start(controlHome)
    running.push(up)
    const r = await benCli(['publish', input], { BEN_HOME: controlHome })
    expect(r.code, r.stderr).toBe(0)
    control = await settle(controlHome, total)
    controlMessages = await messagesIn(controlHome, 'DERIVED')
    await up.stop()
    expect(control.tables.facts.ids).toBe(total)
    // The input has a runaway: the comparison is about something.
    expect(control.tables.anomalies.ids).toBeGreaterThan(0)
    expect(control.derived.size).toBeGreaterThan(control.tables.anomalies.ids)
  }, 300_000)

  afterAll(async () => {
    for (const b of running) await b.stop().catch(() => undefined)
    root.remove()
  })

  it('kill -9 of the embedded nats-server during ingest, and consumers deleted behind Ben’s back: every fact once, derived facts identical to the control run', async () => {
    const home = join(root.path, 'killed-nats')
    mkdirSync(home, { recursive: true })
    shareKeys(controlHome, home)
    const up = await BenUp.start(home)
    running.push(up)
    const first = up.endpoints()
    expect((await benCli(['publish', half[0]], { BEN_HOME: home })).code).toBe(0)
    process.kill(first.natsPid!, 'SIGKILL')
    // The same port, a new pid: ben up started it again.
    const second = await until(
      'a new nats-server',
      () => {
        const e = up.endpoints()
        return e.natsPid !== first.natsPid && isSameProcess({ pid: e.natsPid, startTime: e.natsStartTime }) ? e : undefined
      },
      60_000,
    )
    expect(second.natsUrl).toBe(first.natsUrl)
    // A publish racing the restart may fail; publishing the same file again is the documented remedy.
    await until('the second half to be published', async () => ((await benCli(['publish', half[1]], { BEN_HOME: home })).code === 0 ? true : undefined), 90_000, 500)
    // Another credential deletes a stage's and a projector's consumers.
    const nc = await natsOf(home)
    const jsm = await jetstreamManager(nc)
    // After the server restart a supervisor may be re-creating a consumer right now: delete each
    // once it exists (a delete that finds none is tried again, not taken as the deletion).
    for (const consumer of ['stage-detect-metric', 'proj-facts-scrubbed'])
      await until(`${consumer} deleted`, () => jsm.consumers.delete('DERIVED', consumer).catch(() => undefined), 60_000, 200)
    await nc.close()
    const run = await settle(home, total, undefined, control.consumers)
    expect(compare(control, run)).toEqual([])
    expect(run.tables.facts).toEqual({ rows: total, ids: total })
    const log = readFileSync(join(home, 'ben.log'), 'utf8')
    expect(log).toContain('the embedded nats-server is running again')
    // detect's consumer was deleted under it: the supervisor restarted the stage (whichever it
    // noticed first, the deleted consumer or the failed pull) and re-created the consumer.
    expect(log).toMatch(/"service":"stage:detect","reason":"(consumer stage-detect-metric on DERIVED was deleted|failed)/)
    await up.stop()
  }, 400_000)

  it('past JetStream’s duplicate window (1 s here): a restart that re-derives stores nothing twice, a republish is reported duplicate, raw telemetry copies add no row and are not counted twice', async () => {
    const home = join(root.path, 'window')
    mkdirSync(home, { recursive: true })
    shareKeys(controlHome, home)
    const env = { BEN_DUPLICATE_WINDOW_MS: '1000' }
    const up1 = await BenUp.start(home, env)
    running.push(up1)
    expect((await benCli(['publish', input], { BEN_HOME: home })).code).toBe(0)
    // Killed while the stages work through the input: the next start re-derives what came after
    // their checkpoints, later than the window (the orphaned server says when it has passed).
    up1.kill('SIGKILL')
    await up1.exited
    await windowPassed(home)
    const up2 = await BenUp.start(home, env)
    running.push(up2)
    const first = await settle(home, total, undefined, control.consumers)
    expect(compare(control, first)).toEqual([])
    const derived = await messagesIn(home, 'DERIVED')
    expect(derived, derived === controlMessages ? '' : `stored twice: ${JSON.stringify(await storedTwice(home, 'DERIVED')).slice(0, 3000)}`).toBe(controlMessages)

    // The same lines again, after the window: reported duplicate, nothing stored.
    await windowPassed(home)
    const again = await benCli(['publish', input], { BEN_HOME: home })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`stored 0, duplicate ${total},`)
    expect(await messagesIn(home, 'FACTS')).toBe(total)

    // Raw copies straight to NATS (no lookup, no message id): stored again in FACTS and re-derived
    // by scrub, but no second row, and detect does not count a sample twice.
    // (Telemetry lanes: an alert copied past the window would be decided again by policy.)
    const tail = readFileSync(input, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-300)
      .filter((l) => !l.includes('"lane":"alert"'))
    const nc = await natsOf(home)
    const js = jetstream(nc)
    for (const line of tail) {
      const e = JSON.parse(line) as { lane: string; source: string }
      await js.publish(`ben.fact.${e.lane}.${e.source}`, line)
    }
    await nc.close()
    const second = await settle(home, total, undefined, control.consumers)
    expect(await messagesIn(home, 'FACTS')).toBe(total + tail.length)
    expect(compare(control, second)).toEqual([])
    expect(second.tables.facts).toEqual({ rows: total, ids: total })
    await up2.stop()
  }, 400_000)

  it.skipIf(diskFullSkip !== undefined)(
    'disk full and freed (BEN_HOME on a 128 MB tmpfs filled to the last byte): ben publish ends instead of hanging, Ctrl-C stops ben up, and once space is back every fact is stored once, derived facts identical',
    async () => {
      const home = join(root.path, 'disk-full')
      mkdirSync(home, { recursive: true })
      mountTmpfs(home, '128m')
      let up: BenUp | undefined
      try {
        shareKeys(controlHome, home)
        up = await BenUp.start(home)
        const first = await benCli(['publish', half[0]], { BEN_HOME: home })
        expect(first.code, first.stderr).toBe(0)
        const filler = join(home, 'filler')
        expect(fillDisk(filler), 'the disk to fill up (ENOSPC)').toBe(true)
        // While the disk is full: the publish ends (stored, or failed with a message), it does not hang.
        const during = await benCli(['publish', half[1]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '3000' }, 150_000)
        expect(during.code === 0 || /\S/.test(during.stderr), `exit ${during.code} without a message`).toBe(true)
        // The probe finds JetStream stuck and ben up restarts its nats-server on the full disk (the
        // restart's server is the one the next check is about): waited for, not left to how long
        // the publish above happened to take.
        await until(
          'ben up to restart its stuck nats-server',
          () => (/JetStream is disabled or not answering on the embedded nats-server/.test(up!.output()) ? true : undefined),
          120_000,
          250,
        )
        // Ctrl-C while the disk is still full: ben up stops (it took minutes once), and its
        // nats-server (wedged after ENOSPC, deaf to SIGTERM) does not outlive it.
        up.kill('SIGINT')
        let stopped = false
        void up.exited.then(() => (stopped = true))
        await until('ben up to stop on SIGINT with the disk full', () => stopped || undefined, 180_000, 250)
        // Nor does a server that a restart (the probe saw JetStream stuck) had spawned: it once did,
        // when its start failed on the full disk after the spawn (the lock record could not be written).
        await until('its nats-server to be gone', () => (natsServersOf(home).length === 0 ? true : undefined), 60_000, 500).catch((err: Error) => {
          throw new Error(`${err.message}; ben up said: ${up!.output().slice(-3000)}`)
        })
        rmSync(filler)
        // Space is back: started again, publishing the same file again stores what is missing (the documented remedy).
        up = await BenUp.start(home)
        await until(
          'the second half to be published',
          async () => ((await benCli(['publish', half[1]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '5000' })).code === 0 ? true : undefined),
          240_000,
          1000,
        )
        const run = await settle(home, total, 300_000, control.consumers)
        expect(compare(control, run)).toEqual([])
        expect(run.tables.facts).toEqual({ rows: total, ids: total })
      } finally {
        // Whatever failed: ben up and its nats-server stopped, then the mount removed.
        await stopAndUnmount(up, home)
      }
    },
    600_000,
  )
})

/** Messages stored in a stream of this BEN_HOME's running nats-server. */
async function messagesIn(home: string, stream: string): Promise<number> {
  const nc = await natsOf(home)
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages
  } finally {
    await nc.close()
  }
}

/** Waits until JetStream's duplicate window has passed (`duplicateWindowPassed`, on the DLQ: a stream no stage or projector follows). */
async function windowPassed(home: string): Promise<void> {
  const nc = await natsOf(home)
  try {
    await duplicateWindowPassed(nc)
  } finally {
    await nc.close()
  }
}

/** Message ids stored more than once in a stream, with their sequences and subjects (what a failure says). */
async function storedTwice(home: string, stream: string): Promise<Array<[string, string[]]>> {
  const nc = await natsOf(home)
  try {
    const c = await jetstream(nc).consumers.get(stream, { headers_only: true })
    const seen = new Map<string, string[]>()
    let left = (await c.info(true)).num_pending
    while (left > 0) {
      let got = 0
      for await (const m of await c.fetch({ max_messages: Math.min(left, 5000), expires: 5000 })) {
        got++
        const id = m.headers?.get('Nats-Msg-Id') ?? `seq-${m.seq}`
        seen.set(id, [...(seen.get(id) ?? []), `${m.seq} ${m.subject} ${m.time.toISOString()}`])
      }
      if (got === 0) break
      left -= got
    }
    return [...seen].filter(([, l]) => l.length > 1)
  } finally {
    await nc.close()
  }
}
