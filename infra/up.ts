import { NoRespondersError, type NatsConnection } from '@nats-io/nats-core'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { encodeRecord, hashId } from '../schemas/index.js'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { Bucket, factHeaders, isJetStreamNotEnabled, kvName, openBucket, StreamAdmin, Subjects, type TopologyOptions } from '../streams/index.js'
import { migrate, querySubject, serveQueries } from '../projections/index.js'
import { openClickHouse } from './clickhouse.js'
import { homePaths, type BenEnv } from './config.js'
import { clickhouseContainer, dockerAnswers, natsContainer, type ContainerHandle } from './containers.js'
import { readEndpoints, removeEndpoints, writeEndpoints, type Endpoints } from './endpoints.js'
import { ProbeResult, SupervisedNats } from './embedded-nats.js'
import { findNatsServer } from './nats-server.js'
import { retryWhileForming, SupervisedCluster, waitForJetStream } from './nats-cluster.js'
import { isSameProcess, runsNatsServer, selfIdentity } from './process-identity.js'
import { acquireUpLock } from './up-lock.js'
import type { Logger } from './log.js'
import { runtimeContext, type RuntimeContext, type ServiceFactory } from './runtime.js'
import { InfraError } from './errors.js'
import { Keyring, registerKey } from '../keys/index.js'
import { forgetForUser, recordForUser } from './locate.js'
import { connectNats } from './nats-connect.js'
import { VERSION } from './version.js'

export { runtimeContext, type RuntimeContext, type Service, type ServiceFactory } from './runtime.js'

export interface Running {
  readonly ctx: RuntimeContext
  readonly endpoints: Endpoints
  readonly natsOrigin: 'configured' | 'container' | 'embedded'
  /** The per-user record of this Ben (~/.config/ben/running/…), when it could be written. */
  readonly userRecord?: string
  /** The operator key `ben approve` uses by default, when this start made or registered it. */
  readonly operatorKey?: { readonly keyId: string; readonly file: string; readonly created: boolean }
  /** The supervised embedded nats-server (restarted when it dies), when Ben started one. */
  readonly nats?: SupervisedNats
  /** The supervised embedded cluster (`ben up --cluster N`), when Ben started one. */
  readonly cluster?: SupervisedCluster
  /** Called with the new pid each time the embedded nats-server is started again. */
  onNatsRestart(cb: (pid: number) => void): void
  stop(): Promise<void>
}

/**
 * Starts Ben: NATS and ClickHouse from where DESIGN.md says (configured URLs, else
 * testcontainers when Docker answers, else the embedded default), the topology, the
 * migrations, the query service and the given services; records the endpoints under
 * $BEN_HOME. `stop()` stops consuming, drains, flushes and closes, in reverse order.
 */
export async function startBen(
  env: BenEnv,
  log: Logger,
  services: readonly ServiceFactory[],
  opts: { topology?: Partial<TopologyOptions>; natsConfigFile?: string; cluster?: number } = {},
): Promise<Running> {
  const clusterSize = opts.cluster ?? 1
  if (clusterSize > 1 && env.natsUrl)
    throw new InfraError(
      'bad_config',
      `--cluster ${clusterSize} starts nats-server nodes here, but BEN_NATS_URL points at servers you run: use one or the other (your servers: set BEN_JS_REPLICAS=3 for replicated streams)`,
    )
  if (clusterSize > 1 && opts.natsConfigFile)
    throw new InfraError('bad_config', '--cluster and --secure cannot be combined yet: run the cluster yourself with the generated auth configuration included (docs/scaling.md)')
  // A nats-server named explicitly that cannot run is a configuration error, said before the lock:
  // another ben up holding this BEN_HOME does not hide it (two such starts side by side once got
  // one "is not an executable file" and one "already running").
  if (!env.natsUrl && env.natsServerBin) findNatsServer({ BEN_NATS_SERVER_BIN: env.natsServerBin })
  const paths = homePaths(env.home)
  mkdirSync(env.home, { recursive: true })
  const cleanups: Array<() => Promise<void>> = []
  // Each step is bounded: a stop never hangs on a server that is gone or a disk that is full.
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await withTimeout(c(), STEP_TIMEOUT_MS).catch((err) => log.warn({ err: (err as Error).message }, 'shutdown step failed'))
  }
  try {
    // One ben up per BEN_HOME, decided before any server starts (endpoints.json comes last).
    const upLock = acquireUpLock(paths.upLock, env.home)
    cleanups.push(async () => upLock.release())
    const previous = readEndpoints(paths.endpoints)
    const docker = !env.noContainers && (!env.natsUrl || !env.clickhouseUrl) && (await dockerAnswers())

    // NATS
    let natsUrl = env.natsUrl
    let natsOrigin: Running['natsOrigin'] = 'configured'
    let server: SupervisedNats | undefined
    let cluster: SupervisedCluster | undefined
    // A server configuration (`ben up --secure`) is for the embedded nats-server: no container.
    if (!natsUrl && clusterSize > 1) {
      // Nodes under $BEN_HOME/nats-cluster/n<i>, ports kept in its ports.json across restarts.
      cluster = await SupervisedCluster.start({ storeDir: paths.natsCluster, size: clusterSize, bin: env.natsServerBin, maxFileStore: env.jsMaxStore, nice: env.natsNice, log })
      cleanups.push(() => cluster!.stop())
      natsUrl = cluster.url
      natsOrigin = 'embedded'
    } else if (!natsUrl && docker && !opts.natsConfigFile) {
      const c: ContainerHandle = await natsContainer()
      cleanups.push(() => c.stop())
      natsUrl = c.url
      natsOrigin = 'container'
    } else if (!natsUrl) {
      // A nats-server left behind by a killed `ben up` is stopped by the store lock (only once
      // proven to be that server) and started again here, under supervision, on the same port.
      server = await SupervisedNats.start({
        storeDir: paths.natsStore,
        port: previousPort(paths, previous),
        bin: env.natsServerBin,
        configFile: opts.natsConfigFile,
        maxFileStore: env.jsMaxStore,
        nice: env.natsNice,
        log,
      })
      writeFileSync(paths.natsPort, String(server.port))
      cleanups.push(() => server!.stop())
      natsUrl = server.url
      natsOrigin = 'embedded'
    }
    const nc = await connectNats(natsUrl, env, 'ben-up')
    cleanups.push(async () => {
      // A drain needs the server: bounded, then closed regardless.
      await withTimeout(nc.drain(), 5000).catch(() => nc.close())
    })
    // A fresh connection per probe: after a full disk, nats-server 2.9 wedges every connection
    // that has made a JetStream request (not even a PING is answered on it) while it still
    // accepts and answers new ones. Probed through a connection in use, the stuck server looked
    // paused (left alone) instead of stuck (restarted).
    const probeUrl = natsUrl
    server?.probeWith(async () => {
      let pnc: NatsConnection
      try {
        pnc = await connectNats(probeUrl, env, 'ben-up-probe', { timeout: 3000, maxReconnectAttempts: 0 })
      } catch {
        return ProbeResult.Unreachable
      }
      try {
        return await probeJetStream(pnc)
      } finally {
        void pnc.close().catch(() => undefined)
      }
    })

    const subjects = new Subjects(env.prefix)
    // Replicas: the embedded cluster's size, else BEN_JS_REPLICAS (servers you run), else 1.
    const topo: TopologyOptions = { subjects, replicas: cluster ? clusterSize : (env.jsReplicas ?? 1), duplicateWindowMs: env.duplicateWindowMs, ...opts.topology }
    if (cluster || (topo.replicas ?? 1) > 1) {
      // A cluster that has just formed elects its leaders first, then takes replicated streams.
      await waitForJetStream(nc, 120_000)
      await retryWhileForming(async () => (await StreamAdmin.open(nc)).ensureTopology(topo), 120_000)
    } else await (await StreamAdmin.open(nc)).ensureTopology(topo)
    const operatorKey = natsOrigin === 'configured' ? undefined : await ensureOperatorKey(nc, topo, paths.keys)

    // ClickHouse
    let chUrl = env.clickhouseUrl
    if (!chUrl && docker) {
      const c = await clickhouseContainer()
      cleanups.push(() => c.stop())
      chUrl = c.url
    }
    const warehouse = await openClickHouse(
      chUrl ? { url: chUrl, user: env.clickhouseUser, password: env.clickhousePassword, database: env.clickhouseDb } : { path: paths.clickhouse },
    )
    cleanups.push(() => warehouse.close())
    const { applied } = await migrate(warehouse.client)
    if (applied.length) log.info({ applied }, 'migrations applied')

    const ctx = runtimeContext({ env, nc, topo: { ...topo, subjects }, log, warehouse: () => warehouse })
    cleanups.push(() => ctx.publisher.close())

    // A separate connection serves `ben query`: chDB keeps settings per connection, and the
    // query service's `readonly=1` must never reach the projectors' inserts.
    const reader = warehouse.kind === 'embedded' ? await openClickHouse({ path: paths.clickhouse }) : warehouse
    if (reader !== warehouse) cleanups.push(() => reader.close())
    const qsub = serveQueries(nc, reader.client, querySubject(env.prefix))
    cleanups.push(async () => qsub.unsubscribe())
    const startedNames: string[] = []
    for (const make of services) {
      const svc = await make(ctx)
      startedNames.push(svc.name)
      cleanups.push(() => svc.stop())
      log.info({ service: svc.name }, 'service started')
    }

    const port = Number(new URL(natsUrl.split(',')[0].replace(/^nats:/, 'http:')).port || 4222)
    const first = server ?? cluster?.nodes[0]
    const endpoints: Endpoints = {
      natsUrl,
      natsPort: port,
      pid: process.pid,
      natsPid: first?.pid,
      natsStartTime: first?.identity.startTime,
      ...(cluster ? { natsNodes: cluster.nodes.map((n) => ({ url: n.url, pid: n.pid, startTime: n.identity.startTime })) } : {}),
      startTime: selfIdentity().startTime,
      clickhouse: { kind: warehouse.kind, location: warehouse.location },
      prefix: env.prefix,
      querySubject: querySubject(env.prefix),
      startedAt: new Date().toISOString(),
      version: VERSION,
    }
    await announce(ctx, natsOrigin, startedNames)
    writeEndpoints(paths.endpoints, endpoints)
    cleanups.push(async () => removeEndpoints(paths.endpoints))
    // Recorded for this user too, so `ben` commands run from any directory find this Ben.
    const userRecord = recordForUser(env.home, endpoints)
    if (userRecord) cleanups.push(async () => forgetForUser(env.home))
    const running: { endpoints: Endpoints } = { endpoints }
    const restartListeners: Array<(pid: number) => void> = []
    server?.onRestart((s) => {
      // Same URL; the new pid and start time for whoever may signal it (reloads, tests).
      running.endpoints = { ...running.endpoints, natsPid: s.pid, natsStartTime: s.identity.startTime }
      writeEndpoints(paths.endpoints, running.endpoints)
      if (userRecord) recordForUser(env.home, running.endpoints)
      for (const l of restartListeners) l(s.pid)
    })
    cluster?.onRestart((i, s) => {
      const nodes = [...(running.endpoints.natsNodes ?? [])]
      nodes[i] = { url: s.url, pid: s.pid, startTime: s.identity.startTime }
      running.endpoints = { ...running.endpoints, natsNodes: nodes, ...(i === 0 ? { natsPid: s.pid, natsStartTime: s.identity.startTime } : {}) }
      writeEndpoints(paths.endpoints, running.endpoints)
      if (userRecord) recordForUser(env.home, running.endpoints)
      for (const l of restartListeners) l(s.pid)
    })
    let stopping: Promise<void> | undefined
    return {
      ctx,
      get endpoints() {
        return running.endpoints
      },
      natsOrigin,
      userRecord,
      operatorKey,
      nats: server,
      cluster,
      onNatsRestart: (cb) => void restartListeners.push(cb),
      stop: () => (stopping ??= cleanup()),
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}

/** `ben.hello.ben-up`: who started, with which parts, kept in HELLO for late supervisors. */
async function announce(ctx: RuntimeContext, origin: string, services: readonly string[]): Promise<void> {
  const hello = {
    component: 'ben-up',
    instance: `${hostname()}:${process.pid}`,
    version: VERSION,
    ts: Date.now(),
    info: { nats: origin, clickhouse: ctx.warehouse.kind, services: services.join(','), prefix: ctx.subjects.prefix },
  }
  const enc = encodeRecord(ctx.registry, 'ben.Hello', hello)
  const id = hashId('hello', hello.instance, String(hello.ts))
  const outcome = await new Promise<{ status: string }>(
    (resolve) => void ctx.publisher.sendRaw(ctx.subjects.hello('ben-up'), enc.data, factHeaders(id, enc.schema, enc.fingerprint), id, resolve),
  )
  if (outcome.status === 'failed') ctx.log.warn({ outcome }, 'could not announce ben up on HELLO')
}

/**
 * The operator key of this BEN_HOME (`keys/operator.key.json`): made at first start and
 * registered in ben-keys, so that the first `ben approve` works out of the box. Registering
 * again keeps a revocation that was made meanwhile.
 */
async function ensureOperatorKey(nc: NatsConnection, topo: TopologyOptions, dir: string): Promise<Running['operatorKey']> {
  const ring = new Keyring(dir)
  const created = !ring.has('operator')
  const key = ring.loadOrGenerate('operator', 'operator')
  if (key.role !== 'operator') return undefined
  await registerKey(await openBucket(nc, kvName(topo, Bucket.Keys)), key)
  return { keyId: key.keyId, file: ring.path('operator'), created }
}

/**
 * The port the last server of this store listened on, so that clients reconnect where they were:
 * from the store's own record (nats/port, written by `ben up` after each start), else from
 * endpoints.json only while the nats-server it names is proven to serve this store (pid, start
 * time, command line). A stale endpoints.json proves nothing: it may name any port (even 1).
 */
function previousPort(paths: { natsPort: string; natsStore: string }, previous: Endpoints | undefined): number | undefined {
  const own = lastPort(paths.natsPort)
  if (own !== undefined) return own
  const proven = previous && isSameProcess({ pid: previous.natsPid, startTime: previous.natsStartTime }, runsNatsServer(resolve(paths.natsStore)))
  return proven ? previous.natsPort : undefined
}

function lastPort(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** One shutdown step at most this long (nats-server's own stop is 5 s + SIGKILL). */
const STEP_TIMEOUT_MS = 15_000

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms)
      t.unref()
    }),
  ])
}

/** Whether JetStream answers; `jetstream_disabled` when the server answers but JetStream is off. */
async function probeJetStream(nc: NatsConnection): Promise<ProbeResult> {
  if (nc.isClosed()) return ProbeResult.Unreachable
  try {
    // The server itself answers (core NATS round trip)? Otherwise it is down or paused.
    await withTimeout(nc.rtt(), 3000)
  } catch {
    return ProbeResult.Unreachable
  }
  try {
    await (await StreamAdmin.open(nc, { timeoutMs: 3000 })).accountInfo()
    return ProbeResult.Ok
  } catch (err) {
    const e = err as Error
    if (isJetStreamNotEnabled(err) || e instanceof NoRespondersError || e.cause instanceof NoRespondersError) return ProbeResult.JetStreamDisabled
    // The server answers but its JetStream API does not (seen after a full disk on 2.9).
    return ProbeResult.JetStreamStuck
  }
}
