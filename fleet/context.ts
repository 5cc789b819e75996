// Leaf modules, not infra/index.js: a worker must not load the whole of infra (ClickHouse's client, containers…).
import { connectNats } from '../infra/nats-connect.js'
import { homePaths, type BenEnv } from '../infra/config.js'
import { readEndpoints, isAlive } from '../infra/endpoints.js'
import { runtimeContext, type RuntimeContext } from '../infra/runtime.js'
import type { Logger } from '../infra/log.js'
import { StreamAdmin, Subjects, type TopologyOptions } from '../streams/index.js'
import { FleetError } from './errors.js'

/** The NATS a worker joins: BEN_NATS_URL, else the running `ben up` of its BEN_HOME. */
export function natsUrlOf(env: BenEnv): { url: string; prefix: string } {
  if (env.natsUrl) return { url: env.natsUrl, prefix: env.prefix }
  const e = readEndpoints(homePaths(env.home).endpoints)
  if (e && isAlive(e.pid)) return { url: e.natsUrl, prefix: e.prefix }
  throw new FleetError('not_running', `no NATS to join: set BEN_NATS_URL (or --server nats://…), or start \`ben up\` for BEN_HOME=${env.home}`)
}

/**
 * What a worker process gets: the RuntimeContext of `ben up` without ClickHouse (stage workers
 * need none; asking for it says so). The topology is ensured (idempotent), so a worker may come
 * up before `ben up` has finished.
 */
export async function workerContext(env: BenEnv, log: Logger, name: string): Promise<RuntimeContext & { close(): Promise<void> }> {
  const { url, prefix } = natsUrlOf(env)
  const nc = await connectNats(url, env, name)
  const subjects = new Subjects(prefix)
  const topo = { subjects } satisfies TopologyOptions
  await (await StreamAdmin.open(nc)).ensureTopology(topo)
  const ctx = runtimeContext({
    env,
    nc,
    topo,
    log,
    warehouse: () => {
      throw new FleetError(
        'no_clickhouse',
        'this worker runs stages only and has no ClickHouse; projectors run in `ben up` (embedded chDB is one process) or with BEN_CLICKHOUSE_URL',
      )
    },
  })
  return Object.assign(ctx, {
    async close() {
      await ctx.publisher.close()
      await nc.drain().catch(() => nc.close())
    },
  })
}
