import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/nats-core'
import { SupervisedNats, type SupervisedNatsOptions } from './embedded-nats.js'
import type { NatsServerHandle } from './nats-server.js'
import { freePorts } from './ports.js'
import { InfraError } from './errors.js'
import { StreamAdmin } from '../streams/index.js'

export interface SupervisedClusterOptions extends Omit<SupervisedNatsOptions, 'storeDir' | 'port' | 'requirePort' | 'cluster' | 'logFile'> {
  /** Root of the cluster's stores: node i keeps its JetStream under `<storeDir>/n<i>`. */
  readonly storeDir: string
  /** Number of nodes (3 for R3 streams). */
  readonly size: number
  /** Cluster name. Default `ben`. */
  readonly name?: string
}

/** The ports of a cluster, kept in `<storeDir>/ports.json` so a restart comes back where clients reconnect. */
interface ClusterPorts {
  readonly client: number[]
  readonly routes: number[]
}

/**
 * N nats-server nodes on 127.0.0.1 joined by routes, each under its own supervisor (a node that
 * dies is started again on the same ports with the same store, and catches up from its peers).
 * Client and route ports are chosen free at the first start and kept across restarts of
 * `ben up`, like the single embedded server's port. Clients connect with every node's URL.
 */
export class SupervisedCluster {
  private constructor(
    readonly nodes: readonly SupervisedNats[],
    readonly name: string,
  ) {}

  static async start(opts: SupervisedClusterOptions): Promise<SupervisedCluster> {
    if (!Number.isInteger(opts.size) || opts.size < 1 || opts.size > 9)
      throw new InfraError('bad_config', `--cluster ${opts.size}: a cluster has 1 to 9 nodes (3 for replicated streams that survive one node)`)
    mkdirSync(opts.storeDir, { recursive: true })
    const name = opts.name ?? 'ben'
    const file = join(opts.storeDir, 'ports.json')
    const kept = readPorts(file, opts.size)
    try {
      return await SupervisedCluster.launch(opts, name, kept ?? (await freshPorts(opts.size)), file)
    } catch (err) {
      // A kept route port taken by another program: every node's routes name it, so all move.
      if (!kept || !(err instanceof InfraError) || !/route port/.test(err.message)) throw err
      opts.log.warn({ err: err.message }, 'a kept cluster route port is taken: starting the cluster on new ports')
      return SupervisedCluster.launch(opts, name, await freshPorts(opts.size), file)
    }
  }

  private static async launch(opts: SupervisedClusterOptions, name: string, ports: ClusterPorts, file: string): Promise<SupervisedCluster> {
    const started: SupervisedNats[] = []
    try {
      for (let i = 0; i < opts.size; i++) {
        const node = await SupervisedNats.start({
          ...opts,
          storeDir: join(opts.storeDir, `n${i + 1}`),
          port: ports.client[i],
          cluster: { name, serverName: `${name}-n${i + 1}`, port: ports.routes[i], routes: ports.routes },
        })
        started.push(node)
      }
    } catch (err) {
      for (const n of started.reverse()) await n.stop().catch(() => undefined)
      throw err
    }
    writeFileSync(file, JSON.stringify({ client: started.map((n) => n.port), routes: ports.routes }) + '\n')
    return new SupervisedCluster(started, name)
  }

  /** Every node's client URL. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url)
  }

  /** The URLs joined by commas, as BEN_NATS_URL and endpoints.json carry them. */
  get url(): string {
    return this.urls.join(',')
  }

  /** Called with the node index and its replacement server each time a node is started again. */
  onRestart(cb: (node: number, s: NatsServerHandle) => void): void {
    this.nodes.forEach((n, i) => n.onRestart((s) => cb(i, s)))
  }

  /** Last resort before the process exits: every node SIGTERMed, SIGKILLed if still there 2 s later. */
  terminate(): void {
    for (const n of this.nodes) n.terminate()
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

function readPorts(file: string, size: number): ClusterPorts | undefined {
  try {
    const p = JSON.parse(readFileSync(file, 'utf8')) as ClusterPorts
    const ok = (a: unknown) => Array.isArray(a) && a.length === size && a.every((n) => Number.isInteger(n) && n > 0 && n < 65536)
    return ok(p.client) && ok(p.routes) ? p : undefined
  } catch {
    return undefined
  }
}

async function freshPorts(size: number): Promise<ClusterPorts> {
  const ports = await freePorts(2 * size)
  return { client: ports.slice(0, size), routes: ports.slice(size) }
}

/**
 * Waits until JetStream answers through `nc` (a new cluster elects its meta leader first, and a
 * replicated stream needs its peers known): resolves, or throws after `timeoutMs` with the last
 * answer.
 */
export async function waitForJetStream(nc: NatsConnection, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      await (await StreamAdmin.open(nc, { timeoutMs: 5000 })).accountInfo()
      return
    } catch (err) {
      last = (err as Error).message
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  throw new InfraError('nats_unreachable', `JetStream did not answer within ${timeoutMs} ms (a cluster needs a majority of its nodes up): ${last}`)
}

/**
 * Runs `step` until it succeeds or `timeoutMs` passes: topology changes on a cluster that has
 * just formed can be refused for a few seconds ("insufficient resources" until every peer is
 * known, "temporarily unavailable" during an election).
 */
export async function retryWhileForming<T>(step: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await step()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}
