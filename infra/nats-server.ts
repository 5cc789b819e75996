import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, closeSync, constants, mkdirSync, openSync, readSync, fstatSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join, relative, resolve } from 'node:path'
import { connect as tcpConnect } from 'node:net'
import { InfraError } from './errors.js'
import { freePort, isPortFree } from './ports.js'
import { inspectProcess, selfIdentity, terminateAllSync, type ProcessIdentity } from './process-identity.js'
import { acquireStoreLock, type StoreLock } from './store-lock.js'
import { prioritiseProcess, type PriorityOutcome } from './priority.js'

export interface NatsServerOptions {
  /** JetStream store directory. One nats-server at a time: `<storeDir>/server.lock` says which. */
  readonly storeDir: string
  /** Preferred port; used when free, otherwise a free one is picked (unless `requirePort`). */
  readonly port?: number
  /** Fail instead of picking another port (a restart must come back where clients reconnect). */
  readonly requirePort?: boolean
  /**
   * Extra nats-server config file (auth). It is included from a small generated file
   * (`<storeDir>/ben-nats.conf`) that sets JetStream's `store_dir` and `max_file_store` after it,
   * so the store limit never comes from the free space at start and SIGHUP reloads keep working.
   */
  readonly configFile?: string
  /**
   * JetStream's storage limit (`max_file_store`), e.g. `100GB`. Default: BEN_JS_MAX_STORE, else
   * 1TB. Explicit because nats-server would otherwise fix it at start from the free space: a
   * start on a nearly full disk would leave JetStream with a few MB after the disk is freed.
   */
  readonly maxFileStore?: string
  /** Where the server's own log goes (default `<storeDir>/nats-server.log`). */
  readonly logFile?: string
  readonly bin?: string
  /** A node of a cluster (`ben up --cluster N`): its name, route port and every node's route port. */
  readonly cluster?: ClusterNode
  /**
   * Called as soon as the server process exists, before it serves: whoever must be able to stop
   * every server it started (a supervisor, on its way out) learns of it even when the start then
   * fails or is still under way.
   */
  readonly onSpawn?: (spawned: SpawnedServer) => void
  /**
   * The server's nice value (its threads' and, with Linux autogroup, its scheduling group's),
   * set once it serves. Default DEFAULT_NATS_NICE; 0 leaves its priority alone.
   */
  readonly nice?: number
}

/** A nats-server process as soon as it was spawned. */
export interface SpawnedServer {
  readonly identity: ProcessIdentity
  readonly exited: Promise<unknown>
}

/** One node's place in a loopback cluster: routes between all nodes on 127.0.0.1. */
export interface ClusterNode {
  /** Cluster name (the same on every node). */
  readonly name: string
  /** This server's name (unique; JetStream places replicas by it). */
  readonly serverName: string
  /** This node's route port on 127.0.0.1. */
  readonly port: number
  /** Every node's route port (this one's included; nats-server skips itself). */
  readonly routes: readonly number[]
}

export interface NatsServerHandle {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** pid and start time: what a later process checks before it signals this server. */
  readonly identity: ProcessIdentity
  /** What became of `nice` (undefined when it was 0). */
  readonly priority?: PriorityOutcome
  /** Resolves when the server process ends, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and releases the store lock. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const INSTALL_HINT = 'install it with `sudo apt-get update && sudo apt-get install -y nats-server` (Debian/Ubuntu) or put the binary on PATH / in BEN_NATS_SERVER_BIN'

const DEFAULT_MAX_STORE = '1TB'

/**
 * Default nice of a nats-server Ben starts (BEN_NATS_NICE): the top, like `ben up`'s alert path.
 * Every fact and every derived fact passes through the server. When Ben's stages fall behind a
 * flood and take both cores, a server at their priority waits for CPU like them, and an alert
 * waits with it. The server is a session of its own (detached), so with Linux autogroup it is a
 * scheduling group of its own, sharing the CPU with Ben's group half and half, whatever the threads'
 * nice; its group's nice is what counts. bench:latency's flood at 2× capacity (20 alerts/s, one
 * build, 2026-12-05), alert → decision p99: 230–408 ms with the server at 0; 63–174 ms at -10;
 * 142–149 ms at -5; 47–79 ms at -20 (quiet runs). The price: a server that runs first takes its
 * messages a few at a time and spends more CPU per fact (the steady load: 220–311 µs against
 * 216–222 at 0), so where Ben's stages are the bottleneck they get less: scrub settled 3,900–4,700
 * facts/s at -20 against 4,900–6,000 at 0 in the same quiet minutes (the bench's feed shares their
 * CPU). An operator who wants throughput over the alert lane's latency under overload sets 0.
 */
export const DEFAULT_NATS_NICE = -20

/**
 * The environment of a nats-server Ben starts: Ben's own, with the Go runtime told to hand freed
 * heap back to the kernel with MADV_FREE instead of MADV_DONTNEED (`GODEBUG=madvdontneed=0`)
 * unless the operator's GODEBUG already says. A page given back with MADV_FREE stays mapped until
 * the kernel needs it, so memory the server uses again costs no page fault.
 *
 * Why it matters: a stream's newest block keeps a write cache that grows by copying into a larger
 * buffer (up to the block's 8 MiB), with the stream's lock held. On this project's machine (a
 * paravirtualised VM) a page fault costs 11–17 µs, where bare metal typically takes 0.1–0.3, so a cache that
 * grows into 2.3 MiB of fresh pages (578 faults, traced with perf at 18.9 s into bench:latency's
 * bursty phase) holds every store and delivery on that stream for 10–30 ms. With MADV_DONTNEED,
 * Go's scavenger gives back what the last block's cache used and the next block faults it in
 * again. Over 150 s of the bursty load, after the server's first 45 s (fresh memory either way),
 * it took a median of 2,300 faults every 15 s with MADV_DONTNEED (900–4,400; 2 runs) and 430 with
 * MADV_FREE (20–1,800; 3 runs).
 */
export function natsServerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const godebug = env.GODEBUG?.trim() ?? ''
  if (/(^|,)\s*madvdontneed=/.test(godebug)) return env
  return { ...env, GODEBUG: godebug ? `${godebug},madvdontneed=0` : 'madvdontneed=0' }
}

const SIZE = /^\d+(\.\d+)?\s*(b|kb|mb|gb|tb|k|m|g|t)?$/i

/** Finds the nats-server binary: BEN_NATS_SERVER_BIN, then PATH, then the usual sbin folders. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.BEN_NATS_SERVER_BIN
  if (explicit) {
    if (isExecutable(explicit)) return explicit
    throw new InfraError('nats_server_missing', `BEN_NATS_SERVER_BIN=${explicit} is not an executable file; ${INSTALL_HINT}`)
  }
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin']
  for (const d of dirs) {
    if (!d) continue
    const p = join(d, 'nats-server')
    if (isExecutable(p)) return p
  }
  throw new InfraError('nats_server_missing', `nats-server was not found on PATH; ${INSTALL_HINT}`)
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The generated configuration: the given file included, then JetStream's store and its limit. */
export function renderLauncherConfig(storeDir: string, maxFileStore: string, include?: string, at = storeDir, cluster?: ClusterNode): string {
  if (/["\\\r\n]/.test(storeDir))
    throw new InfraError('bad_config', `store directory ${JSON.stringify(storeDir)} cannot go into a nats-server configuration (no quotes, backslashes or line breaks)`)
  if (!SIZE.test(maxFileStore.trim())) throw new InfraError('bad_config', `BEN_JS_MAX_STORE=${maxFileStore}: expected a size like 500MB, 20GB or 1TB`)
  const lines = ['# Generated by Ben at each start (infra/nats-server.ts); edit the included file or BEN_JS_MAX_STORE instead.']
  // nats-server resolves includes relative to the including file only.
  if (include) lines.push(`include "${relative(at, include)}"`)
  lines.push(`jetstream { store_dir: "${storeDir}", max_file_store: ${maxFileStore.trim().toUpperCase().replace(/\s+/g, '')} }`)
  if (cluster) {
    if (!/^[A-Za-z0-9_-]+$/.test(cluster.name + cluster.serverName))
      throw new InfraError(
        'bad_config',
        `cluster and server names may hold letters, digits, '-' and '_' only (got ${JSON.stringify(cluster.name)}, ${JSON.stringify(cluster.serverName)})`,
      )
    lines.push(
      `server_name: "${cluster.serverName}"`,
      `cluster { name: "${cluster.name}", listen: "127.0.0.1:${cluster.port}", routes: [${cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}] }`,
    )
  }
  lines.push('')
  return lines.join('\n')
}

/**
 * Starts nats-server with JetStream on 127.0.0.1, its store under `storeDir`. Resolves once
 * the client port accepts connections; rejects with the server's own words if it exits first.
 *
 * The server writes to its log file directly (not through a pipe to this process), so it
 * outlives a SIGKILLed parent without dying of SIGPIPE at its next log line. The store lock
 * names the server and its owner; a server left behind by a dead owner is stopped first (only
 * once proven to be that server: pid, start time and command line), and a store whose owner
 * is alive is refused.
 */
export async function startNatsServer(given: NatsServerOptions): Promise<NatsServerHandle> {
  const opts = { ...given, storeDir: resolve(given.storeDir) }
  // A given binary is checked like BEN_NATS_SERVER_BIN: a missing one is a message, not a crash.
  const bin = opts.bin ? findNatsServer({ BEN_NATS_SERVER_BIN: opts.bin }) : findNatsServer()
  mkdirSync(opts.storeDir, { recursive: true })
  const lock = await acquireStoreLock(opts.storeDir)
  try {
    return await launch(bin, opts, lock)
  } catch (err) {
    lock.release()
    throw err
  }
}

async function launch(bin: string, opts: NatsServerOptions, lock: StoreLock): Promise<NatsServerHandle> {
  let port = opts.port && (await isPortFree(opts.port)) ? opts.port : undefined
  if (!port && opts.requirePort && opts.port) {
    // Just killed: its socket may take a moment to be released.
    for (let i = 0; i < 40 && !port; i++) {
      await new Promise((r) => setTimeout(r, 250))
      if (await isPortFree(opts.port)) port = opts.port
    }
    if (!port) throw new InfraError('nats_server_failed', `port 127.0.0.1:${opts.port} is taken by another process; nats-server must come back on it so that clients reconnect`)
  }
  port ??= await freePort()
  // A node's route port is fixed (the other nodes' routes name it): wait for it like the client port.
  if (opts.cluster) await waitUntilFree(opts.cluster.port, 'its route port')
  const confFile = join(opts.storeDir, 'ben-nats.conf')
  writeFileSync(
    confFile,
    renderLauncherConfig(opts.storeDir, opts.maxFileStore ?? (process.env.BEN_JS_MAX_STORE || DEFAULT_MAX_STORE), opts.configFile, dirname(confFile), opts.cluster),
  )
  const args = ['-c', confFile, '-a', '127.0.0.1', '-p', String(port), '--http_port', '0']
  const logFile = opts.logFile ?? join(opts.storeDir, 'nats-server.log')
  const fd = openSync(logFile, 'a')
  const logStart = fstatSync(fd).size
  // Its own process group: a Ctrl-C in the terminal reaches `ben up`, which drains and
  // checkpoints through this server and stops it last, instead of the server going first.
  let child: ChildProcess
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env: natsServerEnv() })
  } finally {
    closeSync(fd)
  }
  let spawnError = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    // A binary that cannot be run: its reason, not an unhandled 'error' event.
    child.once('error', (err) => {
      spawnError = `cannot run ${bin}: ${err.message}\n`
      resolve({ code: null, signal: null })
    })
  })
  const tail = () => spawnError + readTail(logFile, logStart)
  const seen = inspectProcess(child.pid ?? -1)
  const identity: ProcessIdentity = { pid: child.pid ?? -1, startTime: seen?.startTime ?? 'unknown' }
  opts.onSpawn?.({ identity, exited })
  // Whatever fails from here on (the port never opens, the lock record cannot be written on a full
  // disk) stops this server: a start that fails leaves no server behind that nobody knows of.
  try {
    await waitForPort(port, 15_000, exited, tail)
    lock.record({ server: { pid: identity.pid, startTime: identity.startTime }, owner: selfIdentity(), port, storeDir: opts.storeDir })
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    throw err
  }
  const nice = opts.nice ?? DEFAULT_NATS_NICE
  const priority = nice ? prioritiseProcess(identity.pid, nice) : undefined
  stopAtExit(identity, exited)
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      await stopChild(child, exited)
      lock.release()
    })())
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    identity,
    priority,
    exited,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

async function waitUntilFree(port: number, what: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await isPortFree(port)) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new InfraError('nats_server_failed', `port 127.0.0.1:${port} (${what}) is taken by another process; the other cluster nodes' routes name it`)
}

/** The last lines this start wrote to the log (for start-up errors). */
function readTail(file: string, from: number): string {
  try {
    const fd = openSync(file, 'r')
    try {
      const size = fstatSync(fd).size
      const start = Math.max(from, size - 2000)
      const buf = Buffer.alloc(Math.max(0, size - start))
      readSync(fd, buf, 0, buf.length, start)
      return buf.toString('utf8')
    } finally {
      closeSync(fd)
    }
  } catch {
    return ''
  }
}

/**
 * Servers this process started and has not stopped. If it exits first (a bench or a test that
 * threw, a CLI command that failed before its clean-up), they go with it: otherwise nothing would
 * stop them but a later start on the same store, and a bench's store is a fresh temporary
 * directory (a crashed bench:latency run left its server running under the next runs). A
 * SIGKILLed process runs no hook: its server is left behind, as designed, and stopped by the next
 * start on its store.
 */
const unstopped = new Set<ProcessIdentity>()
let exitHooked = false

function stopAtExit(id: ProcessIdentity, exited: Promise<unknown>): void {
  unstopped.add(id)
  // gone by other means (a supervisor's SIGKILL, a crash): nothing to stop, nothing kept
  void exited.then(() => unstopped.delete(id))
  if (exitHooked) return
  exitHooked = true
  process.once('exit', () => stopLeftoverServers())
}

/**
 * Stops, at once, the servers this process started and has not stopped, and says how many there
 * were: at this process's exit, and for a host that ends the process without its 'exit' event
 * (vitest ends a test file's worker so, and a test that threw before its clean-up would otherwise
 * leave its detached server running).
 */
export function stopLeftoverServers(): number {
  const left = [...unstopped]
  terminateAllSync(left)
  for (const id of left) unstopped.delete(id)
  return left.length
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}

async function waitForPort(port: number, timeoutMs: number, exited: Promise<unknown>, tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let dead = false
  void exited.then(() => (dead = true))
  while (Date.now() < deadline) {
    if (dead) throw new InfraError('nats_server_failed', `nats-server exited during start-up: ${tail().trim().split('\n').slice(-3).join(' | ')}`)
    if (await canConnect(port)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new InfraError('nats_server_failed', `nats-server did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`)
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
