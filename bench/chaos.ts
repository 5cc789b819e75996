/**
 * `npm run chaos [-- --seed 7 --faults 8]`: a seeded fault campaign against `ben up`, compared
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
  recoveryS: number | string
}

async function main(): Promise<void> {
  const seed = arg('seed', 42)
  const faults = arg('faults', 6)
  const stallBoundS = 30
  const random = rng(seed)
  const root = mkdtempSync(join(tmpdir(), 'ben-chaos-'))
  const input = join(root, 'input.ndjson')
  const total = writeFleetInput(input, { hosts: 3, rate: 60, durationMs: 240_000, seed: `chaos-${seed}` })
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
    await until(`chunk ${i} to be published`, async () => ((await benCli(['publish', chunks[i]], { BEN_HOME: home, BEN_PUBLISH_STALL_MS: '5000' })).code === 0 ? true : undefined), 300_000, 1000)
    published += readFileSync(chunks[i], 'utf8').trimEnd().split('\n').length
  }
  /** Seconds from now until everything published so far is in ClickHouse and every consumer is idle. */
  const recovery = async (): Promise<number | string> => {
    const t = Date.now()
    try {
      await until(
        'the pipeline to catch up',
        async () => {
          const ben = await connect({ home })
          const nc = await natsOf(home)
          try {
            const n = Number((await ben.query('SELECT uniqExact(id) AS n FROM facts', { timeoutMs: 5000 })).objects()[0].n)
            return n >= published && (await idle(nc)) ? true : undefined
          } finally {
            await ben.close().catch(() => undefined)
            await nc.close().catch(() => undefined)
          }
        },
        180_000,
        500,
      )
      return +((Date.now() - t) / 1000).toFixed(1)
    } catch (err) {
      return `stalled: ${(err as Error).message.slice(0, 80)}`
    }
  }

  const kinds = Object.values(Fault).filter((f) => tmpfs || f !== Fault.DiskFull)
  await publishChunk(0)
  for (let n = 1; n <= faults; n++) {
    const fault = kinds[Math.floor(random() * kinds.length)]
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
    await publishing
    const r = await recovery()
    rows.push({ n, fault, holdS: +(holdMs / 1000).toFixed(1), recoveryS: r })
    process.stdout.write(`fault ${n}: ${fault} for ${(holdMs / 1000).toFixed(1)} s; caught up ${typeof r === 'number' ? `${r} s after it cleared` : r}\n`)
  }

  const run = await settle(home, total, 300_000)
  const diffs = compare(control, run)
  const logLines = readFileSync(join(home, 'ben.log'), 'utf8').split('\n').filter((l) => l && !l.includes('heartbeats_missed')).length
  await up.stop()
  const servers = natsServersOf(home).join(',')
  if (tmpfs) execFileSync('umount', [home])
  rmSync(root, { recursive: true, force: true })

  const lost = control.tables.facts.ids - run.tables.facts.ids
  let duplicated = 0
  for (const t of Object.values(run.tables)) duplicated += t.rows - t.ids
  const numeric = rows.map((r) => r.recoveryS).filter((r): r is number => typeof r === 'number')
  const maxRecovery = numeric.length ? Math.max(...numeric) : 0
  const stalled = rows.filter((r) => typeof r.recoveryS !== 'number' || r.recoveryS > stallBoundS).length

  const table = new Table({ head: ['#', 'fault', 'held (s)', `caught up after (s, bound ${stallBoundS})`] })
  for (const r of rows) table.push([r.n, r.fault, r.holdS, r.recoveryS])
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
    JSON.stringify({ bench: 'chaos', seed, faults: rows.map((r) => ({ fault: r.fault, holdS: r.holdS, recoveryS: r.recoveryS })), facts: total, lost, duplicated, derivedDiffs: diffs, maxRecoveryS: maxRecovery, stalledBeyondBound: stalled, diskFull: tmpfs, ok }) + '\n',
  )
  process.exitCode = ok ? 0 : 1
}

main().catch((err) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`)
  process.exit(2)
})
