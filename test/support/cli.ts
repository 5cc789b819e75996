import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Endpoints } from '../../infra/index.js'
import { connect } from '../../client/ben.js'
import { BEN_JS, benCli, type BenCliOptions } from '../../bench/faults/harness.js'
import { waitFor } from './servers.js'

export const BEN = BEN_JS

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Where and how `ben` runs: a working directory, and whether the caller's BEN_* settings are dropped. */
export type RunOptions = Omit<BenCliOptions, 'input'>

/** Runs `ben <args>` as a user would, to completion (`benCli` of the fault harness, which `npm run chaos` runs too). */
export async function ben(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer, timeoutMs?: number, options: RunOptions = {}): Promise<Run> {
  const { code, stdout, stderr } = await benCli(args, env, timeoutMs, { ...options, input })
  return { code, stdout, stderr }
}

/** `ben` run in a given directory, with exactly the environment given on top of a clean one. */
export function benIn(cwd: string, args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer, timeoutMs?: number): Promise<Run> {
  return ben(args, env, input, timeoutMs, { cwd, cleanEnv: true })
}

/**
 * `fn` over `items`, `concurrency` at a time, results in the order of `items`. For many short
 * `ben` runs: each costs about a second of CPU to start, and on a busy machine a few side by side
 * get more of it than one after another.
 */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane))
  return out
}

/**
 * Waits until `sql`, asked of the running Ben of `env.BEN_HOME` by this process (a few ms a
 * poll), gives rows that `ready` accepts; then runs it once as `ben query --format json` and
 * returns the rows the CLI printed, which `ready` must accept too (else it fails, with them).
 * Polling by spawning `ben query` cost about 0.5 s of CPU a poll, and seconds on a busy machine.
 */
export async function queryWhenReady<R = Record<string, unknown>>(
  env: NodeJS.ProcessEnv & { BEN_HOME: string },
  sql: string,
  ready: (rows: Array<Record<string, unknown>>) => boolean,
  timeoutMs = 60_000,
): Promise<R[]> {
  const lib = await connect({ home: env.BEN_HOME, subscriptions: false })
  try {
    await waitFor(`rows for ${sql}`, async () => ready((await lib.query(sql)).objects()) || undefined, timeoutMs, 100)
  } finally {
    await lib.close()
  }
  const q = await ben(['query', sql, '--format', 'json'], env)
  if (q.code !== 0) throw new Error(`ben query exited with ${q.code}: ${q.stderr}`)
  const rows = JSON.parse(q.stdout) as Array<Record<string, unknown>>
  if (!ready(rows)) throw new Error(`ben query printed rows that are not ready: ${q.stdout.slice(0, 2000)}`)
  return rows as R[]
}

export interface Background {
  child: ChildProcess
  output(): string
  endpoints(): Endpoints
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `ben up` in the background and waits until it has recorded its endpoints (a start takes minutes on a saturated machine). */
export async function benUp(env: NodeJS.ProcessEnv & { BEN_HOME: string }, args: string[] = [], timeoutMs = 240_000): Promise<Background> {
  const child = spawn(process.execPath, [BEN, 'up', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (b) => (out += b))
  child.stderr!.on('data', (b) => (out += b))
  // 'close', not 'exit': at 'exit' the last lines it printed ("stopped.") may not be read yet.
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)))
  const file = join(env.BEN_HOME, 'endpoints.json')
  await waitFor(
    'ben up to record its endpoints',
    () => {
      if (child.exitCode !== null) throw new Error(`ben up exited with ${child.exitCode}: ${out}`)
      if (!existsSync(file)) return undefined
      const e = JSON.parse(readFileSync(file, 'utf8')) as Endpoints
      // The banner is printed after the endpoints are recorded: wait for its last line too.
      return e.pid === child.pid && out.includes('Ctrl-C to stop') ? e : undefined
    },
    timeoutMs,
  )
  return {
    child,
    output: () => out,
    endpoints: () => JSON.parse(readFileSync(file, 'utf8')) as Endpoints,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
