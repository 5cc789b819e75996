import { afterAll, describe, expect, it } from 'vitest'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { BenUp, benCli, until, writeFleetInput } from '../bench/faults/harness.js'
import { tempDir } from './support/servers.js'
import { fillDisk, mountTmpfs, stopAndUnmount, tmpfsSkipReason } from './support/tmpfs.js'

const skip = tmpfsSkipReason()
if (skip) console.warn(`log volume: the disk-full case is skipped: ${skip}`)

/** At most this many lines a minute in ben.log while a fault persists (once 481 lines in 3 minutes, 160 a minute). */
const LINES_PER_MINUTE = 24
/** The fault is held at least this long: long enough for a restart loop to go round several times. */
const HOLD_MS = 75_000
/** Publish attempts during the fault start at most this often. */
const RETRY_MS = 1000

type Line = { level: number; time: number; msg: string; repeated?: number; service?: string; stage?: string; projection?: string }

function linesOf(file: string): Line[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
}

describe('log volume during a persisting fault', () => {
  const root = tempDir('ben-log-volume-')
  afterAll(() => root.remove())

  it.skipIf(skip !== undefined)(
    `disk full for ${HOLD_MS / 1000} s: ben.log gets at most ${LINES_PER_MINUTE} lines a minute, and a warning that repeats is written at most once a minute, then counted ("… repeated N times")`,
    async () => {
      const home = join(root.path, 'home')
      mkdirSync(home, { recursive: true })
      mountTmpfs(home, '96m')
      let up: BenUp | undefined
      try {
        const input = join(root.path, 'input.ndjson')
        writeFleetInput(input, { hosts: 3, durationMs: 60_000, seed: 'log-volume' })
        const more = join(root.path, 'more.ndjson')
        writeFleetInput(more, { hosts: 3, durationMs: 60_000, seed: 'log-volume-more' })
        up = await BenUp.start(home)
        const first = await benCli(['publish', input], { BEN_HOME: home })
        expect(first.code, first.stderr).toBe(0)
        const filler = join(home, 'filler')
        expect(fillDisk(filler), 'the disk to fill up (ENOSPC)').toBe(true)
        const from = Date.now()
        // The fault persists: publishing goes on (each attempt ends, stored or refused), started at
        // most once a second, as a client retrying would. (Back to back, the attempts refused at
        // once while ben up's nats-server could not restart were some 250 processes of ~0.2 s of
        // CPU each: most of this test's CPU on a 2-core machine, none of it about the log.)
        while (Date.now() - from < HOLD_MS) {
          const attempt = Date.now()
          await benCli(['publish', more], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '3000' }, 150_000)
          await delay(RETRY_MS - (Date.now() - attempt))
        }
        const to = Date.now()
        rmSync(filler)
        // Space is back: the lines that waited in memory reach ben.log, stamped with the time they were logged.
        const log = join(home, 'ben.log')
        await benCli(['publish', more], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '5000' }, 150_000)
        await until('ben.log to have lines stamped after the disk was freed', () => (linesOf(log).some((l) => l.time > to) ? true : undefined), 180_000, 500)
        const during = linesOf(log).filter((l) => l.time >= from && l.time <= to)
        const perMinute = (during.length * 60_000) / (to - from)
        const byMsg = new Map<string, number>()
        for (const l of during) byMsg.set(l.msg, (byMsg.get(l.msg) ?? 0) + 1)
        const top = [...byMsg].sort((a, b) => b[1] - a[1]).slice(0, 12)
        console.log(
          `log volume: ${during.length} lines in ${((to - from) / 1000).toFixed(0)} s (${perMinute.toFixed(1)} a minute); most frequent:\n${top.map(([m, n]) => `  ${n}× ${m.slice(0, 160)}`).join('\n')}`,
        )
        expect(perMinute, `most frequent: ${JSON.stringify(top)}`).toBeLessThanOrEqual(LINES_PER_MINUTE)
        // A warning that repeats is written once a minute at most, then counted (its "… repeated N
        // times" line): at most two lines a minute for each kind, where a restart loop once wrote
        // the same warnings every few seconds.
        const minutes = Math.ceil((to - from) / 60_000)
        const warns = new Map<string, number>()
        for (const l of during.filter((x) => x.level >= 40)) {
          // a kind of warning: its message and who said it (a service, stage or projector)
          const msg = `${l.msg.replace(/ … repeated \d+ times in the last \d+ s$/, '')} [${[l.service, l.stage, l.projection].filter(Boolean).join(' ')}]`
          warns.set(msg, (warns.get(msg) ?? 0) + 1)
        }
        expect(warns.size, 'no warning at all while the disk was full').toBeGreaterThan(0)
        for (const [msg, n] of warns) expect(n, `"${msg}" written ${n} times in ${((to - from) / 1000).toFixed(0)} s`).toBeLessThanOrEqual(2 * minutes)
      } finally {
        await stopAndUnmount(up, home)
      }
    },
    600_000,
  )
})
