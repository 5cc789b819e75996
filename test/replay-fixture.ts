import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type Ben } from '../client/index.js'
import { FactCodec } from '../schemas/index.js'
import { loadKeyPair } from '../keys/index.js'
import { runSimulation, type Simulation, type SimulationOptions } from '../simulate/index.js'
import { benWarehouse, type ReplayDeps } from '../replay/index.js'
import { benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

/** A `ben up` (spawned as a user runs it) that has run a backfill simulation to the end. */
export interface LiveRun {
  readonly home: string
  readonly up: Background
  readonly ben: Ben
  readonly sim: Simulation
  deps(): ReplayDeps
  rows(sql: string): Promise<Array<Record<string, unknown>>>
  /** Waits until every durable consumer (stages, projectors, targets) has nothing pending. */
  quiet(): Promise<void>
  stop(): Promise<void>
}

export async function liveRun(sim: SimulationOptions, env: Record<string, string> = {}): Promise<LiveRun> {
  const home = tempDir('ben-replay-')
  const up = await benUp({ BEN_HOME: home.path, BEN_NO_CONTAINERS: '1', ...env })
  const ben = await connect({ home: home.path })
  const s = await runSimulation({ nc: ben.nc, subjects: ben.subjects, codec: new FactCodec(), topo: {} }, sim)
  await s.published
  const issuer = () => {
    const r = loadKeyPair(readFileSync(join(home.path, 'keys', 'issuer.key.json'), 'utf8'))
    if (!r.ok) throw r.error
    return r.value
  }
  const run: LiveRun = {
    home: home.path,
    up,
    ben,
    sim: s,
    deps: () => ({ nc: ben.nc, subjects: ben.subjects, warehouse: benWarehouse(ben), issuer: issuer() }),
    rows: async (sql) => (await ben.query(sql, { maxRows: 100_000 })).objects(),
    async quiet() {
      const jsm = await jetstreamManager(ben.nc)
      let calm = 0
      let lastSeqs = ''
      await waitFor(
        'the live pipeline to settle',
        async () => {
          let pending = 0
          const seqs: number[] = []
          for (const stream of ['FACTS', 'DERIVED', 'COMMANDS']) {
            const si = await jsm.streams.info(stream)
            seqs.push(si.state.last_seq)
            for await (const ci of jsm.consumers.list(stream)) if (ci.config.durable_name) pending += ci.num_pending + ci.num_ack_pending
          }
          const key = seqs.join(',')
          calm = pending === 0 && key === lastSeqs ? calm + 1 : 0
          lastSeqs = key
          return calm >= 3 ? true : undefined
        },
        120_000,
        400,
      )
    },
    async stop() {
      await s.stop()
      await ben.close()
      await up.stop('SIGINT')
      home.remove()
    },
  }
  return run
}
