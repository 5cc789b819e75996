/**
 * `npm run chaos [-- --seed 7 --faults 8 --duration 240 --only 'disk full']`: a seeded fault campaign against `ben up`, compared
 * with an uninterrupted control run on the same input. Faults: SIGKILL of the embedded
 * nats-server, SIGKILL of `ben up` (restarted after a pause), SIGSTOP/SIGCONT of either, and a
 * full disk (BEN_HOME on a small tmpfs filled to the last byte, then freed; skipped with the
 * reason when the mount is not allowed). Between faults the input is published in chunks, the
 * way a user would (`ben publish`, repeated until it succeeds).
 *
 * Checks: 0 facts lost, 0 duplicated rows, derived facts (anomalies, decisions, incidents,
 * commands) identical to the control run, and after each fault clears, the time until the
 * pipeline has taken in everything published so far and every consumer is idle (the stall).
 * Prints a table and one JSON line. Bounded: every wait has a deadline.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Table from 'cli-table3'
import { connect } from '../client/index.js'
import { isSameProcess } from '../infra/index.js'
import { BenUp, benCli, compare, idle, natsOf, natsServersOf, settle, shareKeys, until, writeFleetInput } from './faults/harness.js'

const Fault = { KillNats: 'kill -9 nats-server', KillUp: 'kill -9 ben up', PauseNats: 'SIGSTOP nats-server', PauseUp: 'SIGSTOP ben up', DiskFull: 'disk full' } as const
type Fault = (typeof Fault)[keyof typeof Fault]

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}

/** mulberry32: a small seeded generator, so a campaign can be run again. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Row {
  n: number
  fault: Fault
  holdS: number
  /** Seconds from the fault clearing until the pipeline moved again (the stall). */
  movingS: number | string
  /** Seconds until everything published so far was in ClickHouse and every consumer idle. */
  caughtUpS: number | string
}

async function main(): Promise<void> {
  const seed = arg('seed', 42)
  const faults = arg('faults', 6)
  const stallBoundS = 30
  const random = rng(seed)
  const root = mkdtempSync(join(tmpdir(), 'ben-chaos-'))
  const input = join(root, 'input.ndjson')
  const total = writeFleetInput(input, { hosts: 3, rate: 60, durationMs: arg('duration', 240) * 1000, seed: `chaos-${seed}` })
  const lines = readFileSync(input, 'utf8').trimEnd().split('\n')
  const chunks: string[] = []
  for (let i = 0; i <= faults; i++) {
    const f = join(root, `chunk-${i}.ndjson`)
    const from = Math.floor((i * lines.length) / (faults + 1))
    const to = Math.floor(((i + 1) * lines.length) / (faults + 1))
    writeFileSync(f, lines.slice(from, to).join('\n') + '\n')
    chunks.push(f)
  }
  process.stdout.write(`chaos: seed ${seed}, ${faults} faults, ${total} facts from a simulated fleet of 3 hosts\n`)

  // Control: the same input, uninterrupted.
  const controlHome = join(root, 'control')
  let up = await BenUp.start(controlHome)
  const t0 = Date.now()
  const pub = await benCli(['publish', input], { BEN_HOME: controlHome })
  if (pub.code !== 0) throw new Error(`control publish failed: ${pub.stderr}`)
  const control = await settle(controlHome, total, 300_000)
  await up.stop()
  process.stdout.write(`control run: ${control.tables.facts.ids} facts, ${control.derived.size} derived facts in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)

  // Faulted run: BEN_HOME on a small tmpfs when allowed (for the full disk).
  const home = join(root, 'faulted')
  mkdirSync(home, { recursive: true })
  let tmpfs = false
  let diskNote = ''
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', home], { stdio: 'pipe' })
    tmpfs = true
  } catch (err) {
    diskNote = `disk-full faults skipped: cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); needs root`
    process.stdout.write(`${diskNote}\n`)
  }
  shareKeys(controlHome, home)
  const env = { BEN_JS_MAX_STORE: '10GB' }
  up = await BenUp.start(home, env)
  const rows: Row[] = []
  let published = 0
  const publishChunk = async (i: number) => {
    await until(
      `chunk ${i} to be published`,
      async () => ((await benCli(['publish', chunks[i]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '5000' })).code === 0 ? true : undefined),
      300_000,
      1000,
    )
    published += readFileSync(chunks[i], 'utf8').trimEnd().split('\n').length
  }
  /**
   * From the moment a fault cleared: seconds until the pipeline moves again (ClickHouse holds more
   * distinct facts than at that moment, or it already holds everything published and every
   * consumer is idle) — the stall — and until it has caught up with everything published.
   */
  const recovery = async (cleared: number, publishing: Promise<void>): Promise<{ moving: number | string; caughtUp: number | string }> => {
    let ben: Awaited<ReturnType<typeof connect>> | undefined
    let nc: Awaited<ReturnType<typeof natsOf>> | undefined
    const count = async () => {
      ben ??= await connect({ home })
      return Number((await ben.query('SELECT uniqExact(id) AS n FROM facts', { timeoutMs: 5000 })).objects()[0].n)
    }
    let base = -1
    let done = false
    void publishing.then(() => (done = true))
    let moving: number | string | undefined
    try {
      await until(
        'the pipeline to catch up',
        async () => {
          const n = await count()
          if (base < 0) base = n
          const allIn = done && n >= published
          nc ??= await natsOf(home)
          const quiet = allIn && (await idle(nc))
          if (moving === undefined && (n > base || quiet)) moving = +((Date.now() - cleared) / 1000).toFixed(1)
          return quiet ? true : undefined
        },
        180_000,
        500,
      )
      return { moving: moving!, caughtUp: +((Date.now() - cleared) / 1000).toFixed(1) }
    } catch (err) {
      return { moving: moving ?? 'stalled', caughtUp: `not within 180 s: ${(err as Error).message.slice(0, 60)}` }
    } finally {
      await (ben as { close(): Promise<void> } | undefined)?.close().catch(() => undefined)
      await (nc as { close(): Promise<void> } | undefined)?.close().catch(() => undefined)
    }
  }

  // `--only 'disk full'`: one kind of fault, `faults` times.
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
  if (only !== undefined && !Object.values(Fault).includes(only as Fault)) throw new Error(`--only ${only}: one of ${Object.values(Fault).join(', ')}`)
  const kinds = Object.values(Fault).filter((f) => (tmpfs || f !== Fault.DiskFull) && (only === undefined || f === only))
  if (!kinds.length) throw new Error(`no fault to inject${diskNote ? `: ${diskNote}` : ''}`)
  const order = [...kinds].sort(() => random() - 0.5)
  await publishChunk(0)
  for (let n = 1; n <= faults; n++) {
    // Every kind once (in a seeded order), then at random.
    const fault = n <= kinds.length ? order[n - 1] : kinds[Math.floor(random() * kinds.length)]
    const holdMs = Math.round(3000 + random() * 12_000)
    // The next chunk goes in while the fault is on, as a user's would.
    const publishing = publishChunk(n)
    await sleep(Math.round(random() * 1500))
    const e = up.endpoints()
    switch (fault) {
      case Fault.KillNats:
        if (isSameProcess({ pid: e.natsPid, startTime: e.natsStartTime })) process.kill(e.natsPid!, 'SIGKILL')
        await sleep(holdMs)
        break
      case Fault.KillUp:
        up.kill('SIGKILL')
        await up.exited
        await sleep(holdMs)
        up = await BenUp.start(home, env)
        break
      case Fault.PauseNats:
        process.kill(e.natsPid!, 'SIGSTOP')
        await sleep(holdMs)
        process.kill(e.natsPid!, 'SIGCONT')
        break
      case Fault.PauseUp:
        up.kill('SIGSTOP')
        await sleep(holdMs)
        up.kill('SIGCONT')
        break
      case Fault.DiskFull: {
        const filler = join(home, 'filler')
        const fd = openSync(filler, 'w')
        const block = Buffer.alloc(1 << 20)
        try {
          for (;;) writeSync(fd, block)
        } catch {
          // ENOSPC: the disk is full.
        } finally {
          closeSync(fd)
        }
        await sleep(holdMs)
        rmSync(filler, { force: true })
        break
      }
    }
    const r = await recovery(Date.now(), publishing)
    await publishing
    rows.push({ n, fault, holdS: +(holdMs / 1000).toFixed(1), movingS: r.moving, caughtUpS: r.caughtUp })
    process.stdout.write(`fault ${n}: ${fault} for ${(holdMs / 1000).toFixed(1)} s; moving again ${r.moving} s and caught up ${r.caughtUp} s after it cleared\n`)
  }

  const run = await settle(home, total, 300_000, control.consumers)
  const diffs = compare(control, run)
  const logLines = readFileSync(join(home, 'ben.log'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.includes('heartbeats_missed')).length
  await up.stop()
  const servers = natsServersOf(home).join(',')
  if (tmpfs) execFileSync('umount', [home])
  rmSync(root, { recursive: true, force: true })

  const lost = control.tables.facts.ids - run.tables.facts.ids
  let duplicated = 0
  for (const t of Object.values(run.tables)) duplicated += t.rows - t.ids
  const numeric = rows.map((r) => r.movingS).filter((r): r is number => typeof r === 'number')
  const maxStall = numeric.length ? Math.max(...numeric) : 0
  const stalled = rows.filter((r) => typeof r.movingS !== 'number' || r.movingS > stallBoundS || typeof r.caughtUpS !== 'number').length

  const table = new Table({ head: ['#', 'fault', 'held (s)', `stall after it cleared (s, bound ${stallBoundS})`, 'caught up after (s)'] })
  for (const r of rows) table.push([r.n, r.fault, r.holdS, r.movingS, r.caughtUpS])
  process.stdout.write(table.toString() + '\n')
  const summary = new Table({ head: ['check', 'faulted run', 'control'] })
  summary.push(['facts stored (distinct)', run.tables.facts.ids, control.tables.facts.ids])
  summary.push(['facts lost', lost, 0])
  summary.push(['duplicate rows (all tables)', duplicated, 0])
  summary.push(['derived facts', run.derived.size, control.derived.size])
  summary.push(['differences', diffs.length ? diffs.join('; ') : 'none', '—'])
  summary.push(['log lines (without heartbeat notices)', logLines, '—'])
  summary.push(['nats-server left running', servers ? 'yes' : 'no', '—'])
  process.stdout.write(summary.toString() + '\n')
  if (diskNote) process.stdout.write(`${diskNote}\n`)
  const ok = lost === 0 && duplicated === 0 && diffs.length === 0 && stalled === 0 && !servers
  process.stdout.write(
    JSON.stringify({
      bench: 'chaos',
      seed,
      faults: rows.map((r) => ({ fault: r.fault, holdS: r.holdS, stallS: r.movingS, caughtUpS: r.caughtUpS })),
      facts: total,
      lost,
      duplicated,
      derivedDiffs: diffs,
      maxStallS: maxStall,
      stalledBeyondBound: stalled,
      diskFull: tmpfs,
      ok,
    }) + '\n',
  )
  process.exitCode = ok ? 0 : 1
}

main().catch((err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`)
  process.exit(2)
})
