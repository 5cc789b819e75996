/**
 * Fault-injection harness shared by the fault matrix (test/faults.test.ts) and `npm run chaos`:
 * a deterministic input, `ben up` as a child process (as a user runs it), what "settled" means,
 * and a snapshot of everything Ben derived, to compare a faulted run with a control run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect as natsConnect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect, type Ben } from '../../client/index.js'
import { storedMessages } from '../../streams/index.js'
import { inspectProcess, runsNatsServer, type Endpoints } from '../../infra/index.js'
import { FactCodec, packageRoot, type IncidentFact } from '../../schemas/index.js'
import { createFleet } from '../../simulate/index.js'

export const BEN_JS = join(packageRoot(), 'bin', 'ben.js')
const START_TS = 1_763_700_000_000

/** Edge-shape NDJSON from a seeded simulated fleet with a CPU runaway (so anomalies, decisions and commands exist). */
export function writeFleetInput(file: string, opts: { hosts?: number; rate?: number; durationMs?: number; seed?: string } = {}): number {
  const durationMs = opts.durationMs ?? 240_000
  const fleet = createFleet({
    hosts: opts.hosts ?? 3,
    seed: opts.seed ?? 'faults',
    startTs: START_TS,
    rate: opts.rate ?? 60,
    durationMs,
    scenarios: [{ kind: 'cpu-runaway', atMs: durationMs / 2, durationMs: durationMs / 6 }],
  })
  const lines: string[] = []
  for (const e of fleet.next(START_TS + durationMs)) lines.push(JSON.stringify(e))
  writeFileSync(file, lines.join('\n') + '\n')
  return lines.length
}

/** `ben up` as a child process under one BEN_HOME. */
export class BenUp {
  private out = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(
    readonly home: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (b) => (this.out += b))
    child.stderr!.on('data', (b) => (this.out += b))
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })))
  }

  /** Starts it and waits until it has recorded its endpoints (it is then serving). */
  static async start(home: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000, opts: { args?: readonly string[]; wrap?: readonly string[] } = {}): Promise<BenUp> {
    // `wrap`: a command that execs the rest (e.g. setpriv dropping capabilities), so the pid stays ben up's.
    const argv = [process.execPath, BEN_JS, 'up', ...(opts.args ?? [])]
    const [cmd, ...rest] = [...(opts.wrap ?? []), ...argv]
    const child = spawn(cmd, rest, { env: { ...process.env, BEN_NO_CONTAINERS: '1', ...env, BEN_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
    const b = new BenUp(home, child)
    await until(
      'ben up to record its endpoints',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ben up exited (${child.exitCode ?? child.signalCode}): ${b.out}`)
        const e = readJson<Endpoints>(join(home, 'endpoints.json'))
        return e?.pid === child.pid ? true : undefined
      },
      timeoutMs,
    )
    return b
  }

  get pid(): number {
    return this.child.pid!
  }
  output(): string {
    return this.out
  }
  endpoints(): Endpoints {
    return readJson<Endpoints>(join(this.home, 'endpoints.json'))!
  }
  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }
  async stop(): Promise<void> {
    this.kill('SIGINT')
    await this.exited
  }
}

/** nats-server processes serving the store of this BEN_HOME (from /proc). */
export function natsServersOf(home: string): number[] {
  const matches = runsNatsServer(join(home, 'nats'))
  const out: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const p = inspectProcess(Number(d))
    if (p && matches(p.cmdline)) out.push(p.pid)
  }
  return out
}

/** Worker processes (`ben run --worker-id …`) of this BEN_HOME, by /proc: their pids, parent or not. */
export function workersOf(home: string): Array<{ pid: number; ppid: number; id: string }> {
  const out: Array<{ pid: number; ppid: number; id: string }> = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const p = inspectProcess(Number(d))
    const i = p?.cmdline.indexOf('--worker-id') ?? -1
    if (!p || i < 0 || p.cmdline[1] !== BEN_JS || p.cmdline[2] !== 'run') continue
    try {
      if (!readFileSync(`/proc/${p.pid}/environ`, 'latin1').split('\0').includes(`BEN_HOME=${home}`)) continue
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'latin1')
      out.push({ pid: p.pid, ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), id: p.cmdline[i + 1] })
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** The issuer key of `from` in `to`, so that signed commands are comparable between two homes. */
export function shareKeys(from: string, to: string): void {
  if (existsSync(join(from, 'keys'))) cpSync(join(from, 'keys'), join(to, 'keys'), { recursive: true })
}

export async function natsOf(home: string): Promise<NatsConnection> {
  const e = readJson<Endpoints>(join(home, 'endpoints.json'))
  if (!e) throw new Error(`no endpoints.json in ${home}`)
  return natsConnect({ servers: e.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 })
}

/**
 * Every durable consumer of every stream has delivered and settled everything (nothing pending).
 * Ephemeral ones are left out: an ordered reader of a killed process lingers for minutes.
 */
/**
 * Every durable consumer is drained, and every one named in `expected` exists: a consumer deleted
 * behind Ben's back (and not yet re-created by its supervisor) is not "idle", it is missing.
 */
export async function idle(nc: NatsConnection, expected: readonly string[] = [], seen?: Set<string>): Promise<boolean> {
  return (await notIdle(nc, expected, seen)).length === 0
}

/** The durable consumers that are not idle, and those of `expected` that are missing (named so). */
export async function notIdle(nc: NatsConnection, expected: readonly string[] = [], seen?: Set<string>): Promise<string[]> {
  const jsm = await jetstreamManager(nc, { timeout: 5000 })
  const all: Array<{ name: string; busy: boolean }> = []
  for await (const s of jsm.streams.list()) {
    for await (const c of jsm.consumers.list(s.config.name)) {
      if (!c.config.durable_name) continue
      all.push({ name: `${s.config.name}/${c.config.durable_name}`, busy: c.num_pending > 0 || c.num_ack_pending > 0 })
    }
  }
  const present = new Set(all.map((c) => c.name))
  for (const n of present) seen?.add(n)
  // A whole stage's durable (`stage-detect-metric`) is superseded once the stage runs in partitions
  // (`stage-detect-metric-p0of2`, after `ben up --workers 2`): nobody reads it any more.
  const superseded = (n: string) => [...present].some((o) => o.startsWith(`${n}-p`) && /-p\d+of\d+$/.test(o))
  const working = all.filter((c) => c.busy && !superseded(c.name)).map((c) => c.name)
  return [...working, ...expected.filter((name) => !present.has(name)).map((name) => `${name} (missing)`)]
}

export interface Snapshot {
  /** Rows and distinct ids per ClickHouse table. */
  readonly tables: Record<string, { rows: number; ids: number }>
  /**
   * Derived facts on the bus: anomalies, decisions and commands by id → sha256 of the bytes;
   * incident facts by id → what does not depend on the order in which the incident stage took
   * in its five input lanes (see `incidentKey`).
   */
  readonly derived: Map<string, string>
  /** Each incident's final state: severity, last transition, and its members as a set. */
  readonly incidents: Map<string, string>
  /** Scrubbed facts on the bus (distinct ids). */
  readonly scrubbed: number
  /** The durable consumers (stream/name) that existed when it settled. */
  readonly consumers: readonly string[]
}

const TABLES = ['facts', 'anomalies', 'decisions', 'commands', 'incident_events'] as const

/**
 * Waits until the pipeline has taken in `facts` facts and every consumer is idle three polls in a
 * row spanning at least 2 s, with every consumer in `expected` (a control run's `consumers`)
 * present, then snapshots it. It polls every 250 ms: the end is seen soon after it comes, and the
 * quiet span is the same 2 s as when it polled once a second.
 */
export async function settle(home: string, facts: number, timeoutMs = 180_000, expected: readonly string[] = []): Promise<Snapshot> {
  let ben: Ben | undefined
  let nc: NatsConnection | undefined
  const seen = new Set<string>()
  try {
    let quiet = 0
    let quietSince = 0
    // What the last poll saw, for the message if it never settles.
    let state = 'no poll answered'
    await until(
      `BEN_HOME=${home} to settle with ${facts} facts`,
      async () => {
        ben ??= await connect({ home })
        nc ??= await natsOf(home)
        const r = await ben.query('SELECT count() AS n FROM facts', { timeoutMs: 10_000 })
        const n = Number(r.objects()[0].n)
        state = `${n} rows in facts`
        if (n < facts) return ((quiet = 0), undefined)
        const busy = await notIdle(nc, expected, seen)
        quiet = busy.length === 0 ? quiet + 1 : 0
        state += busy.length ? `; consumers not idle: ${busy.join(', ')}` : '; every consumer idle'
        if (quiet === 1) quietSince = Date.now()
        return quiet >= 3 && Date.now() - quietSince >= 2000 ? true : undefined
      },
      timeoutMs,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (last seen: ${state})`)
    })
    const tables: Snapshot['tables'] = {}
    for (const t of TABLES) {
      const r = await ben!.query(`SELECT count() AS rows, uniqExact(id) AS ids FROM ${t}`)
      const o = r.objects()[0]
      tables[t] = { rows: Number(o.rows), ids: Number(o.ids) }
    }
    const derived = await readIds(nc!, 'DERIVED', ['ben.anomaly.>', 'ben.decision.>'])
    for (const [k, v] of await readIds(nc!, 'COMMANDS', ['ben.cmd.>'])) derived.set(k, v)
    const incidents = new Map<string, string>()
    for (const [k, v] of await readIds(nc!, 'DERIVED', ['ben.incident.>'], (f, id) => {
      incidents.set(f.payload.incidentId, `${f.payload.severity} ${f.payload.transition} ${[...f.payload.factIds].sort().join(',')}`)
      return incidentKey(f, id)
    }))
      derived.set(k, v)
    const scrubbed = (await readIds(nc!, 'DERIVED', ['ben.scrubbed.>'])).size
    return { tables, derived, incidents, scrubbed, consumers: [...seen].sort() }
  } finally {
    await ben?.close().catch(() => undefined)
    await nc?.close().catch(() => undefined)
  }
}

/**
 * What of an incident fact must match the control run. The incident stage reads five lanes
 * (alerts, anomalies, decisions, commands, acks) from two streams, and takes them in the order
 * they arrive: when a decision is stored before the next anomaly of the same runaway (a matter of
 * how busy detect and policy were, with or without a fault), the update it triggers lists its
 * members in another order, with another latest time and title. Replay reproduces that order
 * from the record; a control run cannot. So an update is compared by what made it (its id, the
 * input in its lineage), its incident and transition, and each incident by its final state.
 */
function incidentKey(f: IncidentFact, id: string): string {
  return createHash('sha256')
    .update(`${id} ${f.payload.incidentId} ${f.payload.transition} ${f.lineage.join(',')} ${f.source}`)
    .digest('hex')
}

const codec = new FactCodec()

/** Distinct fact ids on these subjects, each with a hash of its bytes (a duplicate with other bytes is a difference). */
async function readIds(nc: NatsConnection, stream: string, filters: string[], incident?: (f: IncidentFact, id: string) => string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  // nats-server 2.9: one filter subject per consumer.
  for (const filter of filters) {
    await storedMessages(nc, stream, filter, 0, (m) => {
      const id = m.id ?? `seq-${m.seq}`
      let h = createHash('sha256').update(m.data).digest('hex')
      if (incident) {
        const d = codec.decode(m.data, m.schemaFp)
        if (d.ok && d.value.kind === 'incident') h = incident(d.value, id)
      }
      const prev = out.get(id)
      out.set(id, prev && prev !== h ? `${prev}|${h}` : h)
    })
  }
  return out
}

/** What differs between a control snapshot and a faulted one (empty when identical). */
export function compare(control: Snapshot, run: Snapshot): string[] {
  const diffs: string[] = []
  for (const t of TABLES) {
    const a = control.tables[t]
    const b = run.tables[t]
    if (b.rows !== b.ids) diffs.push(`${t}: ${b.rows - b.ids} duplicate rows`)
    if (a.ids !== b.ids) diffs.push(`${t}: ${b.ids} distinct ids, control ${a.ids}`)
  }
  if (control.scrubbed !== run.scrubbed) diffs.push(`scrubbed facts: ${run.scrubbed}, control ${control.scrubbed}`)
  let missing = 0
  let extra = 0
  let changed = 0
  for (const [id, h] of control.derived) {
    const o = run.derived.get(id)
    if (o === undefined) missing++
    else if (o !== h) changed++
  }
  for (const id of run.derived.keys()) if (!control.derived.has(id)) extra++
  if (missing || extra || changed) diffs.push(`derived facts: ${missing} missing, ${extra} extra, ${changed} with other content (control ${control.derived.size})`)
  for (const [id, s] of control.incidents) if (run.incidents.get(id) !== s) diffs.push(`incident ${id}: ${run.incidents.get(id) ?? 'missing'}, control ${s}`)
  for (const id of run.incidents.keys()) if (!control.incidents.has(id)) diffs.push(`incident ${id}: not in the control run`)
  return diffs
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** How `benCli` runs `ben`: what it reads on stdin, a working directory, and whether the caller's BEN_* settings are dropped. */
export interface BenCliOptions {
  readonly input?: string | Buffer
  readonly cwd?: string
  /** Start from the caller's environment without BEN_*, NO_COLOR and FORCE_COLOR: exactly `env` on top of a clean one. */
  readonly cleanEnv?: boolean
}

/**
 * Runs `ben <args>` as a user would, to completion (stdin is `input`, or empty). `timeoutMs` only
 * bounds a command that hangs: on a busy machine a `ben` start alone takes 10 s and more (about
 * 1 s of CPU). The fault matrix, `npm run chaos` and the tests (test/support/cli.ts) all run it.
 */
export function benCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
  options: BenCliOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const base = options.cleanEnv ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BEN_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR')) : process.env
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [BEN_JS, ...args], { cwd: options.cwd, env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
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
      resolve({ code, stdout, stderr, ms: Date.now() - t0 })
    })
    // a command that exits without reading its stdin must not fail the run
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}
