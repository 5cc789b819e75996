import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../schemas/index.js'
import type { Endpoints } from '../../infra/index.js'
import { waitFor } from './servers.js'

export const BEN = join(packageRoot(), 'bin', 'ben.js')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Where and how `ben` runs: a working directory, and whether the caller's BEN_* settings are dropped. */
export interface RunOptions {
  readonly cwd?: string
  /** Start from the caller's environment without BEN_*, NO_COLOR and FORCE_COLOR: exactly `env` on top of a clean one. */
  readonly cleanEnv?: boolean
}

/** Runs `ben <args>` as a user would, to completion. */
export function ben(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer, timeoutMs = 60_000, options: RunOptions = {}): Promise<Run> {
  const base = options.cleanEnv ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BEN_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR')) : process.env
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BEN, ...args], { cwd: options.cwd, env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b) => (stdout += b))
    child.stderr.on('data', (b) => (stderr += b))
    const t = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`ben ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(t)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input ?? '')
  })
}

export interface Background {
  child: ChildProcess
  output(): string
  endpoints(): Endpoints
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `ben up` in the background and waits until it has recorded its endpoints. */
export async function benUp(env: NodeJS.ProcessEnv & { BEN_HOME: string }, args: string[] = []): Promise<Background> {
  const child = spawn(process.execPath, [BEN, 'up', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (b) => (out += b))
  child.stderr!.on('data', (b) => (out += b))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
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
    60_000,
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
