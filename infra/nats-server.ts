import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdirSync, createWriteStream, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { connect as tcpConnect } from 'node:net'
import { InfraError } from './errors.js'
import { freePort, isPortFree } from './ports.js'

export interface NatsServerOptions {
  /** JetStream store directory. */
  readonly storeDir: string
  /** Preferred port; used when free, otherwise a free one is picked. */
  readonly port?: number
  /**
   * Extra nats-server config file (auth, limits). When it sets JetStream's `store_dir` itself,
   * `-sd` is left off the command line (nats-server refuses both, and a store dir given by flag
   * makes every config reload fail); it should then be `storeDir`.
   */
  readonly configFile?: string
  /** Where the server's own log goes (default `<storeDir>/nats-server.log`). */
  readonly logFile?: string
  readonly bin?: string
}

export interface NatsServerHandle {
  readonly url: string
  readonly port: number
  readonly pid: number
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const INSTALL_HINT =
  'install it with `sudo apt-get update && sudo apt-get install -y nats-server` (Debian/Ubuntu) or put the binary on PATH / in BEN_NATS_SERVER_BIN'

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

/**
 * Starts nats-server with JetStream on 127.0.0.1, its store under `storeDir`. Resolves once
 * the client port accepts connections; rejects with the server's own words if it exits first.
 */
export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  // A given binary is checked like BEN_NATS_SERVER_BIN: a missing one is a message, not a crash.
  const bin = opts.bin ? findNatsServer({ BEN_NATS_SERVER_BIN: opts.bin }) : findNatsServer()
  mkdirSync(opts.storeDir, { recursive: true })
  const port = opts.port && (await isPortFree(opts.port)) ? opts.port : await freePort()
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '--http_port', '0']
  if (!(opts.configFile && setsStoreDir(opts.configFile))) args.push('-sd', opts.storeDir)
  if (opts.configFile) args.unshift('-c', opts.configFile)
  const logFile = opts.logFile ?? join(opts.storeDir, 'nats-server.log')
  const log = createWriteStream(logFile, { flags: 'a' })
  // Its own process group: a Ctrl-C in the terminal reaches `ben up`, which drains and
  // checkpoints through this server and stops it last, instead of the server going first.
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let tail = ''
  const keep = (b: Buffer) => {
    log.write(b)
    tail = (tail + b.toString()).slice(-2000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    // A binary that cannot be run: its reason, not an unhandled 'error' event.
    child.once('error', (err) => {
      keep(Buffer.from(`cannot run ${bin}: ${err.message}\n`))
      resolve(null)
    })
  })
  try {
    await waitForPort(port, 15_000, exited, () => tail)
  } catch (err) {
    child.kill('SIGKILL')
    log.end()
    throw err
  }
  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    stop: () => stopChild(child, exited, log),
    [Symbol.asyncDispose]: () => stopChild(child, exited, log),
  }
  return handle
}

function setsStoreDir(configFile: string): boolean {
  try {
    return /^\s*store_dir\s*[:=]/m.test(readFileSync(configFile, 'utf8').replace(/[{]/g, '\n'))
  } catch {
    return false
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, log: NodeJS.WritableStream): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  await new Promise<void>((r) => log.end(r))
}

async function waitForPort(port: number, timeoutMs: number, exited: Promise<number | null>, tail: () => string): Promise<void> {
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
