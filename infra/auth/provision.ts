import { connect } from '@nats-io/transport-node'
import { nkeyAuthenticator } from '@nats-io/nats-core'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { homePaths } from '../config.js'
import { readEndpoints } from '../endpoints.js'
import { isSameProcess, runsNatsServer } from '../process-identity.js'
import { InfraError } from '../errors.js'
import { ensureCredsDir, ensureIdentity, listIdentities, readSeed, seedFilePath, type Identity } from './identities.js'
import {
  checkSidecarId,
  operatorPermissions,
  processorPermissions,
  projectorPermissions,
  AuthRole,
  sidecarConsumerName,
  sidecarIdentity,
  sidecarInboxPrefix,
  sidecarPermissions,
  type NamespaceOptions,
  type Permissions,
} from './permissions.js'
import { renderServerConfig, type AuthUser } from './server-config.js'

/** Files under `$BEN_HOME/creds/`. */
export const authPaths = (home: string) => {
  const dir = homePaths(home).creds
  return Object.freeze({
    dir,
    /** The generated nats-server configuration. */
    config: join(dir, 'nats-server.conf'),
    /** Subject and stream prefixes the configuration was generated for. */
    meta: join(dir, 'auth.json'),
    /** pid of the nats-server `ben up --secure` started with the configuration (for reloads). */
    serverPid: join(dir, 'nats-server.pid'),
    seed: (name: string) => seedFilePath(dir, name),
  })
}

export interface AuthSetup {
  readonly dir: string
  readonly configFile: string
  readonly identities: readonly Identity[]
  /** True when the configuration text changed (a running server needs a reload). */
  readonly changed: boolean
  /** Seed file of an identity (`processor`, `operator`, `sidecar-<id>`, …). */
  seedFile(name: string): string
}

export interface AuthOptions extends NamespaceOptions {
  /** Sidecars whose credentials are made now (`ben up --secure --sidecars a,b`). */
  readonly sidecars?: readonly string[]
  /** JetStream store directory written into the configuration (default `$BEN_HOME/nats`). */
  readonly storeDir?: string
}

interface Stored extends NamespaceOptions {
  readonly storeDir?: string
}

/**
 * Makes sure the role identities (processor, projector, operator) and the named sidecars have
 * nkeys under `$BEN_HOME/creds/`, and (re)writes the server configuration from every seed file
 * there. Idempotent: existing seeds are kept.
 */
export function ensureAuth(home: string, opts: AuthOptions = {}): AuthSetup {
  const paths = authPaths(home)
  for (const id of opts.sidecars ?? []) {
    const bad = checkSidecarId(id)
    if (bad) throw new InfraError('bad_config', bad)
  }
  ensureCredsDir(paths.dir)
  const ns = namespace(home, opts)
  writeAtomic(paths.meta, JSON.stringify(ns) + '\n')
  for (const role of [AuthRole.Processor, AuthRole.Projector, AuthRole.Operator]) ensureIdentity(paths.dir, role)
  for (const id of opts.sidecars ?? []) ensureIdentity(paths.dir, sidecarIdentity(id))
  return writeServerConfig(home, ns)
}

/** Regenerates the configuration from the seed files under `$BEN_HOME/creds/`. */
export function writeServerConfig(home: string, ns: Stored = namespace(home)): AuthSetup {
  const paths = authPaths(home)
  const identities = listIdentities(paths.dir)
  const users: AuthUser[] = []
  for (const i of identities) {
    const permissions = permissionsOf(i.name, ns)
    if (permissions) users.push({ name: i.name, nkey: i.publicKey, permissions })
  }
  const text = renderServerConfig(users, { storeDir: ns.storeDir ?? homePaths(home).natsStore })
  const before = existsSync(paths.config) ? readFileSync(paths.config, 'utf8') : undefined
  if (before !== text) writeAtomic(paths.config, text)
  return Object.freeze({ dir: paths.dir, configFile: paths.config, identities: Object.freeze(identities), changed: before !== text, seedFile: paths.seed })
}

/** The permissions of an identity, by its name; undefined for a seed file that is no Ben identity. */
export function permissionsOf(name: string, ns: NamespaceOptions = {}): Permissions | undefined {
  if (name === AuthRole.Processor) return processorPermissions(ns)
  if (name === AuthRole.Projector) return projectorPermissions(ns)
  if (name === AuthRole.Operator) return operatorPermissions(ns)
  if (name.startsWith('sidecar-') && checkSidecarId(name.slice('sidecar-'.length)) === null) return sidecarPermissions(name.slice('sidecar-'.length), ns)
  return undefined
}

export interface SidecarCredentials {
  readonly id: string
  /** `$BEN_HOME/creds/sidecar-<id>.nk`: BEN_NATS_NKEY for the sidecar. */
  readonly seedFile: string
  readonly publicKey: string
  /** Connect with this `inboxPrefix`: the sidecar may subscribe to no other inbox. */
  readonly inboxPrefix: string
  /** Durable pull consumer on COMMANDS, filtered to `<prefix>.cmd.<id>`. */
  readonly consumer: string
  /** True when a running `ben up --secure` reloaded its server to admit the new identity. */
  readonly reloaded: boolean
}

/**
 * The credentials of sidecar `id`: creates its nkey when missing, adds it to the server
 * configuration, and, when `ben up --secure` runs its nats-server under this BEN_HOME,
 * reloads that server (SIGHUP) and waits until the new identity is admitted.
 */
export async function sidecarCredentials(home: string, id: string, opts: NamespaceOptions & { readonly reloadTimeoutMs?: number } = {}): Promise<SidecarCredentials> {
  const bad = checkSidecarId(id)
  if (bad) throw new InfraError('bad_config', bad)
  const setup = ensureAuth(home, { ...namespace(home, opts), sidecars: [id] })
  const identity = setup.identities.find((i) => i.name === sidecarIdentity(id))
  if (!identity) throw new InfraError('bad_config', `the credentials of sidecar '${id}' were not written to ${setup.dir}`)
  const reloaded = setup.changed ? await reloadServer(home, identity, opts.reloadTimeoutMs ?? 10_000) : false
  return Object.freeze({ id, seedFile: identity.seedFile, publicKey: identity.publicKey, inboxPrefix: sidecarInboxPrefix(id), consumer: sidecarConsumerName(id), reloaded })
}

/** Records the pid of the nats-server started with the generated configuration (`ben up --secure`). */
export function recordSecureServer(home: string, pid: number): void {
  writeAtomic(authPaths(home).serverPid, `${pid}\n`)
}

export function forgetSecureServer(home: string, pid: number): void {
  const file = authPaths(home).serverPid
  if (readPid(file) === pid) rmSync(file, { force: true })
}

/**
 * SIGHUP to the secure nats-server of this BEN_HOME (when one runs), then waits until `probe`
 * can connect: a reload is asynchronous. False when no such server runs.
 */
export async function reloadServer(home: string, probe: Identity, timeoutMs = 10_000): Promise<boolean> {
  const pid = readPid(authPaths(home).serverPid)
  const e = readEndpoints(homePaths(home).endpoints)
  // Signalled only when proven to be the server `ben up` started: pid, start time, command line.
  if (!pid || !e || e.natsPid !== pid || !isSameProcess({ pid, startTime: e.natsStartTime }, runsNatsServer(homePaths(home).natsStore))) return false
  process.kill(pid, 'SIGHUP')
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      const nc = await connect({ servers: e.natsUrl, authenticator: nkeyAuthenticator(readSeed(probe.seedFile)), reconnect: false, timeout: 1000 })
      await nc.close()
      return true
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new InfraError('nats_server_failed', `nats-server (pid ${pid}) did not admit ${probe.name} within ${timeoutMs} ms of the reload: ${last}`)
}

/** Prefixes and store directory: given ones, else those the configuration was generated for, else the defaults. */
function namespace(home: string, given: Stored = {}): Stored {
  let stored: Stored = {}
  try {
    stored = JSON.parse(readFileSync(authPaths(home).meta, 'utf8')) as Stored
  } catch {
    stored = {}
  }
  const prefix = given.prefix ?? stored.prefix ?? 'ben'
  const streamPrefix = given.streamPrefix ?? stored.streamPrefix
  const storeDir = given.storeDir ?? stored.storeDir ?? homePaths(home).natsStore
  return { prefix, ...(streamPrefix ? { streamPrefix } : {}), storeDir }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, file)
}
