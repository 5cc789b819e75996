/**
 * `npm run bench:start [-- --runs 7]`: what a `ben` start costs, in CPU time of the process
 * (utime + stime, from /proc; load average printed beside it):
 * - `ben --version` and `ben status` with no Ben running (exit 5): the CLI's own start;
 * - against a running `ben up` (started once, as a user runs it): `ben status`, `ben query`,
 *   `ben streams`, `ben tail <pattern> --no-follow`, `ben tail anomalies --no-follow`,
 *   `ben publish` of one line (a duplicate after the first run: the same path each time);
 * - a worker of `ben up --workers 2` (`ben run --worker-id … --units …`, the command line the
 *   orchestrator spawns) against a real nats-server: from spawn to its hello on
 *   `ben.hello.worker.<id>` and to every unit running (its banner), wall and CPU, for each build;
 *   and the modules it loads (one more start with dist/bench/module-count.js imported).
 * Prints the medians; `BEN_START_BIN=/other/checkout/bin/ben.js` measures another build the same
 * way, and `BEN_START_BASELINE=/other/checkout/bin/ben.js` measures it too, in the same run,
 * interleaved run by run with this one (a same-run baseline, e.g. a copy of the previous dist/).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { startNatsServer } from '../infra/index.js'
import { workerCommand, workerSlots } from '../cli/run.js'
import { procCpu } from './proc-cpu.js'
import { BEN_JS, BenUp } from './faults/harness.js'

const runs = (() => {
  const i = process.argv.indexOf('--runs')
  return i > 0 ? Number(process.argv[i + 1]) : 7
})()
const bin = process.env.BEN_START_BIN ?? BEN_JS
const baseline = process.env.BEN_START_BASELINE
/** The builds measured: this one, then the baseline's (column `before`). */
const bins = baseline ? [bin, baseline] : [bin]

/** CPU seconds of this process's reaped children (cutime + cstime of /proc/self/stat). */
function childrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const ms = (s: number) => `${Math.round(s * 1000)} ms`

/** CPU of one short `ben` command, run to its end. */
async function once(b: string, args: readonly string[], env: NodeJS.ProcessEnv, expect?: number): Promise<{ cpu: number; wall: number }> {
  const before = childrenCpu()
  const t = performance.now()
  const code = await new Promise<number | null>((resolve, reject) => {
    const p = spawn(process.execPath, [b, ...args], { env, stdio: 'ignore' })
    p.on('error', reject)
    p.on('exit', (c) => resolve(c))
  })
  if (expect !== undefined && code !== expect) throw new Error(`${b} ${args.join(' ')} exited ${code}, not ${expect}`)
  return { cpu: childrenCpu() - before, wall: (performance.now() - t) / 1000 }
}

type Figure = { cpu: number; wall: number }

/** Each command `runs` times with every build, interleaved (so load changes hit both alike); medians by build. */
async function measure(out: Record<string, Figure[]>, commands: ReadonlyArray<readonly [string, readonly string[], number?]>, env: NodeJS.ProcessEnv): Promise<void> {
  for (const [name, args, expect] of commands) {
    const rs: Figure[][] = bins.map(() => [])
    for (let i = 0; i < runs; i++) for (const [k, b] of bins.entries()) rs[k].push(await once(b, args, env, expect))
    out[name] = rs.map((r) => ({ cpu: median(r.map((x) => x.cpu)), wall: median(r.map((x) => x.wall)) }))
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ben-bench-start-'))
  const out: Record<string, Figure[]> = {}
  const modules: Array<{ esm: number; cjs: number; k: number }> = []
  const loads: string[] = [readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')]
  try {
    const env = { ...process.env, BEN_HOME: join(dir, 'nohome'), XDG_CONFIG_HOME: join(dir, 'config') }
    await measure(
      out,
      [
        ['ben --version', ['--version'], 0],
        ['ben status (no Ben)', ['status'], 5],
      ],
      env,
    )

    // The commands that talk to a Ben, against one `ben up` (the embedded default) started once.
    const home = join(dir, 'up')
    const up = await BenUp.start(home, {}, 180_000)
    try {
      const fact = join(dir, 'fact.ndjson')
      writeFileSync(fact, JSON.stringify({ lane: 'metric', source: 'bench-start', ts: 1_763_700_000_000, name: 'cpu.load', value: 0.5 }) + '\n')
      const upEnv = { ...process.env, BEN_HOME: home, XDG_CONFIG_HOME: join(dir, 'config') }
      // The query service answers once the projections are migrated: wait for a first answer.
      for (const deadline = Date.now() + 120_000; ; ) {
        const answered = await once(bin, ['query', 'SELECT 1'], upEnv, 0).then(
          () => true,
          () => false,
        )
        if (answered) break
        if (Date.now() > deadline) throw new Error(`ben up under ${home} did not answer a query within 120 s: ${up.output()}`)
        await new Promise((r) => setTimeout(r, 500))
      }
      await measure(
        out,
        [
          ['ben status (Ben up)', ['status'], 0],
          ['ben query', ['query', 'SELECT count() FROM facts'], 0],
          ['ben streams', ['streams'], 0],
          ['ben tail <pattern> --no-follow', ['tail', 'ben.fact.>', '--no-follow', '--last', '1'], 0],
          ['ben tail anomalies --no-follow', ['tail', 'anomalies', '--no-follow', '--last', '1'], 0],
          ['ben publish (1 line)', ['publish', fact], 0],
        ],
        upEnv,
      )
    } finally {
      await up.stop()
    }

    const server = await startNatsServer({ storeDir: join(dir, 'nats') })
    const nc = await connect({ servers: server.url })
    try {
      const slot = workerSlots(2, 2)[0]
      mkdirSync(join(dir, 'home'))
      const cmd = workerCommand(server.url, join(dir, 'home'), 'ben')
      // One worker start: wall and CPU to its hello and to every unit running; with `count`, the modules it loaded.
      const startWorkerOnce = async (b: string, id: string, count?: string) => {
        const s = { ...slot, id }
        const { cmd: c, args, env: wenv } = cmd(s)
        const sub = nc.subscribe(`ben.hello.worker.${s.id}`, { max: 1 })
        const t = performance.now()
        const hook = count ? ['--import', new URL('./module-count.js', import.meta.url).pathname] : []
        const p = spawn(c, [...hook, b, ...args.slice(1)], { env: count ? { ...wenv, BEN_MODULE_COUNT_OUT: count } : wenv, stdio: 'ignore' })
        const seen = (async () => {
          for await (const _ of sub) return
        })()
        await seen
        const hello = { wall: (performance.now() - t) / 1000, cpu: procCpu(p.pid!) }
        // Every unit runs: one line each in the worker's log ("unit <key> runs on worker <id>").
        const logFile = join(dir, 'home', `worker-${s.id}.log`)
        const running = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split(' runs on worker ').length - 1 : 0)
        while (running() < s.units.length) await new Promise((r) => setTimeout(r, 20))
        const ready = { wall: (performance.now() - t) / 1000, cpu: procCpu(p.pid!) }
        await new Promise<void>((resolve) => {
          p.on('exit', () => resolve())
          p.kill('SIGTERM')
        })
        return { hello, ready }
      }
      const hello: Figure[][] = bins.map(() => [])
      const ready: Figure[][] = bins.map(() => [])
      for (let i = 0; i < runs; i++)
        for (const [k, b] of bins.entries()) {
          const r = await startWorkerOnce(b, `bench-start-${k}-${i}`)
          hello[k].push(r.hello)
          ready[k].push(r.ready)
        }
      const med = (fs: Figure[]): Figure => ({ cpu: median(fs.map((x) => x.cpu)), wall: median(fs.map((x) => x.wall)) })
      out['worker: spawn → hello'] = hello.map(med)
      out['worker: spawn → every unit runs'] = ready.map(med)
      // Modules a worker loads (one more start of each build, with a counting hook: not in the figures above).
      for (const [k, b] of bins.entries()) {
        const f = join(dir, `modules-${k}.json`)
        await startWorkerOnce(b, `bench-start-count-${k}`, f)
        const m = JSON.parse(readFileSync(f, 'utf8')) as { esm: number; cjs: number }
        modules[k] = { ...m, k }
      }
    } finally {
      await nc.close()
      await server.stop()
    }
    loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '))
    process.stdout.write(`bench:start: ${bin}${baseline ? ` (before: ${baseline})` : ''}, median of ${runs} runs; load average ${loads.join(' → ')}\n`)
    for (const [k, [v, b]] of Object.entries(out)) {
      const was = b ? `   before ${ms(b.cpu).padStart(8)} CPU ${ms(b.wall).padStart(8)} wall` : ''
      process.stdout.write(`  ${k.padEnd(34)} ${ms(v.cpu).padStart(8)} CPU ${ms(v.wall).padStart(8)} wall${was}\n`)
    }
    const mods = (m: { esm: number; cjs: number }) => `${m.esm + m.cjs} modules (${m.esm} ES, ${m.cjs} CommonJS)`
    if (modules.length) process.stdout.write(`  ${'worker: modules loaded'.padEnd(34)} ${mods(modules[0])}${modules[1] ? `   before ${mods(modules[1])}` : ''}\n`)
    process.stdout.write(
      JSON.stringify({
        bench: 'start',
        bin,
        runs,
        load: loads,
        ...(baseline ? { baseline } : {}),
        workerModules: modules.map(({ esm, cjs }) => esm + cjs),
        ...Object.fromEntries(
          Object.entries(out).map(([k, [v, b]]) => [
            k,
            {
              cpuMs: Math.round(v.cpu * 1000),
              wallMs: Math.round(v.wall * 1000),
              ...(b ? { beforeCpuMs: Math.round(b.cpu * 1000), beforeWallMs: Math.round(b.wall * 1000) } : {}),
            },
          ]),
        ),
      }) + '\n',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  process.stderr.write(`bench:start: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
