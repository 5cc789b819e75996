/**
 * `npm run chaos [-- --seed 7 --faults 14 --duration 240 --only 'disk full' --keep-logs]`: a seeded fault
 * campaign against `ben up`, compared with an uninterrupted control run on the same input.
 * Phase 1 (stages in `ben up`): SIGKILL of the embedded nats-server, SIGKILL of `ben up`
 * (restarted after a pause), SIGSTOP/SIGCONT of either, SIGSTOP of `ben up` for longer than
 * JetStream's 2-minute duplicate window (once), a full disk (BEN_HOME on a small tmpfs filled to
 * the last byte, then freed), ClickHouse unwritable (its directories lose their write bits; `ben
 * up` runs under setpriv without CAP_DAC_OVERRIDE so that root obeys them), and a corrupted
 * ClickHouse part (Ben stopped, a part of `facts` damaged, started again, `ben rebuild facts`; once).
 * Phase 2, the same BEN_HOME under `ben up --workers 2`: SIGKILL and SIGSTOP of a worker, SIGKILL of
 * `ben up` (its workers must not outlive it), SIGKILL of nats-server. Each kind once per phase in a
 * seeded order; `--faults N` adds random phase-2 faults up to N. Mounts need root: without it the
 * disk faults are skipped with the reason. Between faults the input is published in chunks, the
 * way a user would (`ben publish`, repeated until it succeeds).
 *
 * Checks: 0 facts lost, 0 duplicated rows, derived facts (anomalies, decisions, incidents,
 * commands) identical to the control run, and after each fault clears, the time until the
 * pipeline has taken in everything published so far and every consumer is idle (the stall).
 * Prints a table and one JSON line; exit 0 only when every check passed. Bounded: every wait has
 * a deadline; the mounts are removed and `ben up` stopped whatever happens.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Table from 'cli-table3'
import { connect } from '../client/index.js'
import { isSameProcess } from '../infra/index.js'
import { BenUp, benCli, compare, idle, natsOf, natsServersOf, settle, shareKeys, until, workersOf, writeFleetInput } from './faults/harness.js'

const Fault = {
  KillNats: 'kill -9 nats-server',
  KillUp: 'kill -9 ben up',
  PauseNats: 'SIGSTOP nats-server',
  PauseUp: 'SIGSTOP ben up',
  DiskFull: 'disk full',
  ChUnwritable: 'ClickHouse unwritable',
  CorruptPart: 'corrupted ClickHouse part',
  PauseLong: 'SIGSTOP ben up past the duplicate window',
  KillWorker: 'kill -9 worker',
  PauseWorker: 'SIGSTOP worker',
  KillUpWorkers: 'kill -9 ben up --workers 2',
  KillNatsWorkers: 'kill -9 nats-server (workers)',
} as const
type Fault = (typeof Fault)[keyof typeof Fault]
/** In-process stages first (`ben up`), then the same home under `ben up --workers 2`. */
const PHASE1: readonly Fault[] = [Fault.KillNats, Fault.KillUp, Fault.PauseNats, Fault.PauseUp, Fault.DiskFull, Fault.ChUnwritable, Fault.CorruptPart, Fault.PauseLong]
const PHASE2: readonly Fault[] = [Fault.KillWorker, Fault.PauseWorker, Fault.KillUpWorkers, Fault.KillNatsWorkers]

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
  note: string
}

/** `--only F`: that kind `faults` times; else every kind once per phase (seeded order), then random phase-2 ones up to `faults` (so the slow ones, the long pause and the broken part, run once). */
function plan(random: () => number, faults: number, only: Fault | undefined, allowed: (f: Fault) => boolean): Fault[] {
  const shuffle = (l: readonly Fault[]) => [...l].sort(() => random() - 0.5)
  if (only) return Array.from({ length: faults }, () => only)
  const p1 = shuffle(PHASE1.filter(allowed))
  const p2 = shuffle(PHASE2.filter(allowed))
  const fast = PHASE2.filter(allowed)
  while (p1.length + p2.length < faults) p2.push(fast[Math.floor(random() * fast.length)])
  return [...p1, ...p2]
}

async function main(): Promise<void> {
  const seed = arg('seed', 42)
  const only = process.argv.includes('--only') ? (process.argv[process.argv.indexOf('--only') + 1] as Fault) : undefined
  if (only !== undefined && !Object.values(Fault).includes(only)) throw new Error(`--only ${only}: one of ${Object.values(Fault).join(', ')}`)
  const stallBoundS = 30
  const windowMs = 120_000
  const random = rng(seed)
  const root = mkdtempSync(join(tmpdir(), 'ben-chaos-'))
  const home = join(root, 'faulted')
  const chHome = join(home, 'clickhouse')
  const mounted: string[] = []
  let up: BenUp | undefined
  try {
    // Faulted run: BEN_HOME on a small tmpfs (the full disk), ClickHouse's data on a tmpfs of its own
    // (a full NATS store is not a full ClickHouse). Needs root; else those faults are skipped, said why.
    mkdirSync(home, { recursive: true })
    const notes: string[] = []
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m', 'tmpfs', home], { stdio: 'pipe' })
      mounted.unshift(home)
      mkdirSync(chHome)
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1g', 'tmpfs', chHome], { stdio: 'pipe' })
      mounted.unshift(chHome)
    } catch (err) {
      notes.push(`disk-full faults skipped: cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); needs root`)
    }
    // ClickHouse unwritable: its directories lose their write bits, which root ignores unless it runs
    // without CAP_DAC_OVERRIDE: `ben up` runs under setpriv with those capabilities dropped.
    let wrap: string[] | undefined
    try {
      execFileSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', 'true'], { stdio: 'pipe' })
      wrap = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--']
    } catch (err) {
      if (process.getuid?.() === 0) notes.push(`ClickHouse-unwritable fault skipped: root ignores file modes and setpriv failed (${(err as Error).message.split('\n')[0]})`)
    }
    const allowed = (f: Fault) => (f !== Fault.DiskFull || mounted.length > 0) && (f !== Fault.ChUnwritable || wrap !== undefined || process.getuid?.() !== 0)
    const kinds = plan(random, arg('faults', only ? 1 : 0), only, allowed)
    if (!kinds.length) throw new Error(`no fault to inject${notes.length ? `: ${notes.join('; ')}` : ''}`)
    for (const n of notes) process.stdout.write(`${n}\n`)

    const input = join(root, 'input.ndjson')
    const total = writeFleetInput(input, { hosts: 3, rate: 60, durationMs: arg('duration', 240) * 1000, seed: `chaos-${seed}` })
    const lines = readFileSync(input, 'utf8').trimEnd().split('\n')
    const chunks: string[] = []
    for (let i = 0; i <= kinds.length; i++) {
      const f = join(root, `chunk-${i}.ndjson`)
      const from = Math.floor((i * lines.length) / (kinds.length + 1))
      const to = Math.floor(((i + 1) * lines.length) / (kinds.length + 1))
      writeFileSync(f, lines.slice(from, to).join('\n') + '\n')
      chunks.push(f)
    }
    process.stdout.write(`chaos: seed ${seed}, ${kinds.length} faults (${kinds.join(', ')}), ${total} facts from a simulated fleet of 3 hosts\n`)

    // Control: the same input, uninterrupted.
    const controlHome = join(root, 'control')
    up = await BenUp.start(controlHome)
    const t0 = Date.now()
    const pub = await benCli(['publish', input], { BEN_HOME: controlHome })
    if (pub.code !== 0) throw new Error(`control publish failed: ${pub.stderr}`)
    const control = await settle(controlHome, total, 300_000)
    await up.stop()
    up = undefined
    process.stdout.write(`control run: ${control.tables.facts.ids} facts, ${control.derived.size} derived facts in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)

    shareKeys(controlHome, home)
    const env = { BEN_JS_MAX_STORE: '10GB' }
    let workers = false
    const start = () => BenUp.start(home, env, 90_000, { wrap, args: workers ? ['--workers', '2'] : [] })
    up = await start()
    const rows: Row[] = []
    let published = 0
    const publishChunk = async (i: number) => {
      await until(
        `chunk ${i} to be published`,
        async () => ((await benCli(['publish', chunks[i]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '5000' })).code === 0 ? true : undefined),
        400_000,
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
    const query = async <T>(sql: string): Promise<T[]> => {
      const ben = await connect({ home })
      try {
        return (await ben.query(sql, { timeoutMs: 10_000 })).objects() as T[]
      } finally {
        await ben.close()
      }
    }

    await publishChunk(0)
    for (let n = 1; n <= kinds.length; n++) {
      const fault = kinds[n - 1]
      if (PHASE2.includes(fault) && !workers) {
        // From here on the stages run in two worker processes (partitions of scrub and detect).
        await up.stop()
        workers = true
        up = await start()
        await until('two workers', () => (workersOf(home).length === 2 ? true : undefined), 60_000, 500)
        process.stdout.write('now under ben up --workers 2\n')
      }
      let holdMs = fault === Fault.PauseLong ? windowMs + 10_000 : Math.round(3000 + random() * 12_000)
      let note = ''
      // The next chunk goes in while the fault is on, as a user's would.
      const publishing = publishChunk(n)
      await sleep(Math.round(random() * 1500))
      const e = up.endpoints()
      let cleared = 0
      switch (fault) {
        case Fault.KillNats:
        case Fault.KillNatsWorkers:
          if (isSameProcess({ pid: e.natsPid, startTime: e.natsStartTime })) process.kill(e.natsPid!, 'SIGKILL')
          await sleep(holdMs)
          break
        case Fault.KillUp:
        case Fault.KillUpWorkers: {
          const orphans = workersOf(home)
          up.kill('SIGKILL')
          await up.exited
          await sleep(holdMs)
          up = await start()
          if (workers) {
            // The killed ben up's workers must not outlive it (they would hold their leases forever).
            const alive = () => orphans.filter((w) => workersOf(home).some((x) => x.pid === w.pid))
            const gone = await until('the old workers to exit', () => (alive().length ? undefined : true), 60_000, 500).catch(() => false)
            note = gone
              ? `its ${orphans.length} workers exited with it`
              : `old workers still running: ${alive()
                  .map((w) => w.pid)
                  .join(',')}`
          }
          break
        }
        case Fault.PauseNats:
          process.kill(e.natsPid!, 'SIGSTOP')
          await sleep(holdMs)
          process.kill(e.natsPid!, 'SIGCONT')
          break
        case Fault.PauseUp:
        case Fault.PauseLong:
          up.kill('SIGSTOP')
          await sleep(holdMs)
          up.kill('SIGCONT')
          break
        case Fault.KillWorker:
        case Fault.PauseWorker: {
          const ws = workersOf(home)
          const w = ws[Math.floor(random() * ws.length)]
          note = `worker ${w.id}`
          process.kill(w.pid, fault === Fault.KillWorker ? 'SIGKILL' : 'SIGSTOP')
          await sleep(holdMs)
          if (fault === Fault.PauseWorker) {
            // The orchestrator kills a worker whose leases went unrenewed (10 s): SIGCONT only if it is still there.
            const still = workersOf(home).some((x) => x.pid === w.pid)
            if (still) process.kill(w.pid, 'SIGCONT')
            note += still ? ', resumed' : ', killed by the orchestrator and replaced'
          }
          break
        }
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
        case Fault.ChUnwritable: {
          // Every directory of ClickHouse's data loses its write bits (as `chmod a-w`), then gets them back.
          const dirs = execFileSync('find', [chHome, '-type', 'd'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
          const modes = dirs.map((d) => [d, statSync(d).mode & 0o7777] as const)
          for (const [d, m] of modes) chmodSync(d, m & ~0o222)
          await sleep(holdMs)
          for (const [d, m] of modes) chmodSync(d, m)
          break
        }
        case Fault.CorruptPart: {
          // Ben stopped, one active part of `facts` damaged on disk, Ben started again: ClickHouse moves the
          // part aside, `ben up` warns, and the user runs `ben rebuild facts` (what the warning says).
          const [{ data_paths }] = await query<{ data_paths: string[] }>("SELECT data_paths FROM system.tables WHERE database = currentDatabase() AND name = 'facts'")
          const t = Date.now()
          await up.stop()
          const dir = data_paths[0]
          const parts = readdirSync(dir)
            .map((name) => ({ name, m: /^all_(\d+)_(\d+)_(\d+)$/.exec(name) }))
            .filter((p) => p.m && existsSync(join(dir, p.name, 'count.txt')))
            .map((p) => ({ name: p.name, span: Number(p.m![2]) - Number(p.m![1]), rows: Number(readFileSync(join(dir, p.name, 'count.txt'), 'utf8')) }))
            .sort((a, b) => b.span - a.span)
          const victim = parts[0]
          const bin = readdirSync(join(dir, victim.name)).find((f) => f.endsWith('.bin'))!
          writeFileSync(join(dir, victim.name, bin), 'not a ClickHouse column')
          up = await start()
          const b = up
          await until('the warning about the detached part', () => (/ClickHouse table facts: 1 detached part/.test(b.output()) ? true : undefined), 60_000, 500)
          holdMs = Date.now() - t
          const r = await benCli(['rebuild', 'facts'], { BEN_HOME: home }, 600_000)
          const said = r.stdout.split('\n').find((l) => l.startsWith('rebuilt')) ?? r.stderr.trim()
          note = `part ${victim.name} (${victim.rows} rows) broken; ben rebuild facts exit ${r.code}: ${said}`
          cleared = Date.now()
          break
        }
      }
      cleared ||= Date.now()
      const r = await recovery(cleared, publishing)
      await publishing
      rows.push({ n, fault, holdS: +(holdMs / 1000).toFixed(1), movingS: r.moving, caughtUpS: r.caughtUp, note })
      process.stdout.write(
        `fault ${n}: ${fault} for ${(holdMs / 1000).toFixed(1)} s, cleared at ${new Date(cleared).toISOString().slice(11, 23)} (to read ben.log against); moving again ${r.moving} s and caught up ${r.caughtUp} s after it cleared${note ? `; ${note}` : ''}\n`,
      )
    }

    const run = await settle(home, total, 300_000, control.consumers)
    const diffs = compare(control, run)
    const logLines = readFileSync(join(home, 'ben.log'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.includes('heartbeats_missed')).length
    await up.stop()
    up = undefined
    const servers = natsServersOf(home).join(',')
    const strayWorkers = workersOf(home)
      .map((w) => w.pid)
      .join(',')

    const lost = control.tables.facts.ids - run.tables.facts.ids
    let duplicated = 0
    for (const t of Object.values(run.tables)) duplicated += t.rows - t.ids
    const numeric = rows.map((r) => r.movingS).filter((r): r is number => typeof r === 'number')
    const maxStall = numeric.length ? Math.max(...numeric) : 0
    const stalled = rows.filter((r) => typeof r.movingS !== 'number' || r.movingS > stallBoundS || typeof r.caughtUpS !== 'number').length

    const table = new Table({
      head: ['#', 'fault', 'held (s)', `stall after it cleared (s, bound ${stallBoundS})`, 'caught up after (s)', 'note'],
      colWidths: [null, null, null, null, null, 60],
      wordWrap: true,
    })
    for (const r of rows) table.push([r.n, r.fault, r.holdS, r.movingS, r.caughtUpS, r.note])
    process.stdout.write(table.toString() + '\n')
    const summary = new Table({ head: ['check', 'faulted run', 'control'] })
    summary.push(['facts stored (distinct)', run.tables.facts.ids, control.tables.facts.ids])
    summary.push(['facts lost', lost, 0])
    summary.push(['duplicate rows (all tables)', duplicated, 0])
    summary.push(['derived facts', run.derived.size, control.derived.size])
    summary.push(['differences', diffs.length ? diffs.join('; ') : 'none', '—'])
    summary.push(['log lines (without heartbeat notices)', logLines, '—'])
    summary.push(['nats-server or workers left running', servers || strayWorkers ? `yes: ${servers} ${strayWorkers}` : 'no', '—'])
    process.stdout.write(summary.toString() + '\n')
    for (const n of notes) process.stdout.write(`${n}\n`)
    const ok = lost === 0 && duplicated === 0 && diffs.length === 0 && stalled === 0 && !servers && !strayWorkers
    process.stdout.write(
      JSON.stringify({
        bench: 'chaos',
        seed,
        faults: rows.map((r) => ({ fault: r.fault, holdS: r.holdS, stallS: r.movingS, caughtUpS: r.caughtUpS, note: r.note || undefined })),
        facts: total,
        lost,
        duplicated,
        derivedDiffs: diffs,
        maxStallS: maxStall,
        stalledBeyondBound: stalled,
        diskFull: mounted.length > 0,
        ok,
      }) + '\n',
    )
    process.exitCode = ok ? 0 : 1
  } finally {
    // Stopped and unmounted whatever happened (a failed wait throws).
    if (up) {
      up.kill('SIGINT')
      await Promise.race([up.exited, sleep(60_000)])
      up.kill('SIGKILL')
    }
    const failed = process.exitCode !== 0
    // --keep-logs: kept after a passing run too (where did a stall's time go?)
    const keep = failed || process.argv.includes('--keep-logs')
    if (keep) {
      // Kept for a post-mortem: the logs (the tmpfs goes away).
      mkdirSync(join(root, 'logs'), { recursive: true })
      for (const f of existsSync(home) ? readdirSync(home).filter((f) => f.endsWith('.log')) : []) cpSync(join(home, f), join(root, 'logs', f))
      if (existsSync(join(home, 'nats', 'nats-server.log'))) cpSync(join(home, 'nats', 'nats-server.log'), join(root, 'logs', 'nats-server.log'))
      process.stderr.write(`chaos: logs kept in ${join(root, 'logs')}\n`)
    }
    for (const m of mounted) {
      try {
        execFileSync('umount', [m], { stdio: 'pipe' })
      } catch {
        execFileSync('umount', ['-l', m], { stdio: 'pipe' })
      }
    }
    if (keep) rmSync(home, { recursive: true, force: true })
    else rmSync(root, { recursive: true, force: true })
  }
}

process.exitCode = 2
main().catch((err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`)
  process.exit(2)
})
