import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { startNatsServer, type NatsServerHandle } from '../../infra/index.js'
import { Subjects, type TopologyOptions, StreamAdmin } from '../../streams/index.js'
import { tempDir } from './servers.js'

/** A test nats-server that can be stopped and started again on the same port with the same store. */
export interface RestartableNats {
  readonly url: string
  readonly port: number
  readonly storeDir: string
  readonly subjects: Subjects
  readonly topo: TopologyOptions
  readonly running: boolean
  /** The running server's pid (undefined while stopped). */
  readonly pid: number | undefined
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); clients see a disconnect. */
  stop(): Promise<void>
  /** SIGKILLs the server (paused or not) and waits for it to exit: a crash, as `ben up`'s server can meet. */
  kill(): Promise<void>
  /** Starts it again: same port, same JetStream store (streams, KV and dedup state survive). */
  start(): Promise<void>
  /** A fresh client connection (reconnects forever). */
  connect(): Promise<NatsConnection>
  /** Stops the server and removes its directory. */
  remove(): Promise<void>
}

export async function startRestartableNats(topo: Partial<TopologyOptions> = {}): Promise<RestartableNats> {
  const dir = tempDir('ben-nats-')
  const storeDir = join(dir.path, 'nats')
  let server: NatsServerHandle | undefined = await startNatsServer({ storeDir })
  const port = server.port
  const url = server.url
  const subjects = new Subjects()
  const t: TopologyOptions = { subjects, ...topo }
  const nc = await connect({ servers: url })
  await (await StreamAdmin.open(nc)).ensureTopology(t)
  await nc.close()
  return {
    url,
    port,
    storeDir,
    subjects,
    topo: t,
    get running() {
      return server !== undefined
    },
    get pid() {
      return server?.pid
    },
    async kill() {
      const s = server
      server = undefined
      if (!s) return
      process.kill(s.pid, 'SIGKILL')
      await s.exited
    },
    async stop() {
      const s = server
      server = undefined
      await s?.stop()
    },
    async start() {
      if (server) return
      const s = await startNatsServer({ storeDir, port })
      if (s.port !== port) {
        await s.stop()
        throw new Error(`nats-server came back on port ${s.port}, not ${port} (the port was taken meanwhile)`)
      }
      server = s
    },
    connect: () => connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 }),
    async remove() {
      await server?.stop()
      server = undefined
      dir.remove()
    },
  }
}
