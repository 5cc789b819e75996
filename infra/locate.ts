import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { homePaths } from './config.js'
import { isAlive, readEndpoints, writeEndpoints, type Endpoints } from './endpoints.js'

/**
 * How a `ben` command finds the Ben it talks to, like `nats context` or a kubeconfig:
 * `--server`/BEN_NATS_URL, else `--home`/BEN_HOME, else `./.ben` when a Ben runs there, else
 * the most recent `ben up` of this user (each records itself under ~/.config/ben/running/).
 */
export const FoundBy = {
  Server: 'server',
  Home: 'home',
  Cwd: 'cwd',
  User: 'user',
  None: 'none',
} as const
export type FoundBy = (typeof FoundBy)[keyof typeof FoundBy]

export interface Located {
  readonly by: FoundBy
  /** The BEN_HOME commands use (keys, sidecar state, endpoints). */
  readonly home: string
  /** The running `ben up` recorded there, when its pid is alive. */
  readonly endpoints?: Endpoints
  /** The user record this was found through (by = 'user'). */
  readonly record?: string
  /** Plain words: how it was found. */
  readonly how: string
}

/** A user's record of one running Ben: its endpoints plus where its BEN_HOME is. */
export type UserRecord = Endpoints & { readonly home: string }

/** ~/.config/ben (XDG_CONFIG_HOME/ben when set; BEN_CONFIG_DIR overrides both). */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BEN_CONFIG_DIR) return resolve(env.BEN_CONFIG_DIR)
  return join(env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(env.HOME || homedir(), '.config'), 'ben')
}

const recordsDir = (env: NodeJS.ProcessEnv) => join(userConfigDir(env), 'running')
const recordFile = (env: NodeJS.ProcessEnv, home: string) => join(recordsDir(env), `${createHash('sha256').update(resolve(home)).digest('hex').slice(0, 16)}.json`)

/** `ben up` records itself for this user; best effort (a read-only home directory is no reason to fail). */
export function recordForUser(home: string, e: Endpoints, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    mkdirSync(recordsDir(env), { recursive: true })
    const file = recordFile(env, home)
    writeEndpoints(file, { ...e, home: resolve(home) } as UserRecord)
    return file
  } catch {
    return undefined
  }
}

export function forgetForUser(home: string, pid = process.pid, env: NodeJS.ProcessEnv = process.env): void {
  const file = recordFile(env, home)
  const r = readEndpoints(file)
  if (r && r.pid === pid) rmSync(file, { force: true })
}

/** The running Bens of this user, most recently started first; stale records are removed. */
export function runningForUser(env: NodeJS.ProcessEnv = process.env): Array<UserRecord & { file: string }> {
  const dir = recordsDir(env)
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'))
  } catch {
    return []
  }
  const out: Array<UserRecord & { file: string }> = []
  for (const n of names) {
    const file = join(dir, n)
    const r = readEndpoints(file) as UserRecord | undefined
    if (!r || typeof r.home !== 'string') continue
    if (!isAlive(r.pid)) {
      rmSync(file, { force: true })
      continue
    }
    out.push({ ...r, file })
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
}

const live = (home: string): Endpoints | undefined => {
  const e = readEndpoints(homePaths(home).endpoints)
  return e && isAlive(e.pid) ? e : undefined
}

/** Finds the Ben a command talks to (see FoundBy). Reads the environment and the cwd only. */
export function locateBen(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Located {
  const explicitHome = env.BEN_HOME ? resolve(cwd, env.BEN_HOME) : undefined
  if (env.BEN_NATS_URL) {
    const home = explicitHome ?? resolve(cwd, '.ben')
    return { by: FoundBy.Server, home, endpoints: live(home), how: `BEN_NATS_URL / --server ${env.BEN_NATS_URL}` }
  }
  if (explicitHome) return { by: FoundBy.Home, home: explicitHome, endpoints: live(explicitHome), how: `BEN_HOME / --home ${explicitHome}` }
  const here = resolve(cwd, '.ben')
  const e = live(here)
  if (e) return { by: FoundBy.Cwd, home: here, endpoints: e, how: `./.ben of the current directory (${here})` }
  const mine = runningForUser(env)[0]
  if (mine) return { by: FoundBy.User, home: mine.home, endpoints: mine, record: mine.file, how: `the most recent \`ben up\` of this user (${mine.file})` }
  return { by: FoundBy.None, home: here, how: 'nothing: no BEN_HOME or --home, no running Ben under ./.ben, no running `ben up` recorded for this user' }
}
