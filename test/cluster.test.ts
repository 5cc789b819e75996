import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import pino from 'pino'
import { connectNats, embeddedEnv, startBen, type Running } from '../infra/index.js'
import { FactPublisher, type PublishReport } from '../streams/index.js'
import { factsProjection } from '../projections/index.js'
import { scrubService } from '../processors/wiring/index.js'
import { projectorService } from '../cli/services.js'
import { metricFacts } from './support/facts.js'
import { consumerSettled, tempDir, waitFor } from './support/servers.js'
import { readStream } from './support/sidecar.js'

const N = 40_000
const MORE = 10_000
/** Generous: three nats-servers, chDB and the stages share two busy cores. */
const LONG = 240_000

/**
 * `ben up --cluster 3`: three supervised nats-server nodes with routes on 127.0.0.1, R3 streams.
 * A node is killed with SIGKILL while facts are being published and processed (the stream
 * leader of FACTS, held down; then the leader of DERIVED, restarted at once): nothing stored is
 * lost, nothing reaches ClickHouse twice, processing goes on without the node, and the node
 * catches up once it is back.
 */
describe('a cluster of three nats-server nodes with R3 streams survives a node killed mid-ingest and mid-processing', () => {
  const home = tempDir('ben-cluster-')
  let running: Running
  let client: NatsConnection
  /** Ben's log lines (info and worse), shown when a wait fails: what the projector and its supervisor went through. */
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) })
  const logged = () =>
    lines
      .filter((l) => /projector|supervis|restart|consumer|insert|project-/.test(l))
      .slice(-60)
      .join('')

  const chCount = async () => {
    const rs = await running.ctx.warehouse.client.query({ query: 'SELECT count() AS c, uniqExact(id) AS u FROM facts', format: 'JSONEachRow' })
    const [row] = await rs.json<{ c: string; u: string }>()
    return { rows: Number(row.c), unique: Number(row.u) }
  }
  const info = async (stream: string): Promise<StreamInfo> => (await jetstreamManager(running.ctx.nc, { timeout: 10_000 })).streams.info(stream)
  const leaderNode = async (stream: string) => {
    const leader = (await info(stream)).cluster?.leader
    const i = leader ? Number(/-n(\d+)$/.exec(leader)?.[1]) - 1 : -1
    if (!(i >= 0)) throw new Error(`${stream} has no leader yet (${leader})`)
    return i
  }
  /** Every replica of the stream is current with no lag, and `server` is one of them (or leads). */
  const caughtUp = async (stream: string, server: string) => {
    const c = (await info(stream)).cluster
    if (!c?.leader) return false
    const peers = [c.leader, ...(c.replicas ?? []).map((r) => r.name)]
    return peers.includes(server) && peers.length === 3 && (c.replicas ?? []).every((r) => r.current && !r.offline && (r.lag ?? 0) === 0)
  }

  beforeAll(async () => {
    const env = embeddedEnv(home.path)
    running = await startBen(env, log, [scrubService(), projectorService(factsProjection({ fromScrubbed: true }))], { cluster: 3 })
    client = await connectNats(running.endpoints.natsUrl, env, 'cluster-test')
  }, LONG)

  afterAll(async () => {
    await client?.close().catch(() => undefined)
    await running?.stop()
    home.remove()
  })

  it('runs three nodes on loopback, every stream with three replicas, and clients know every node', async () => {
    expect(running.cluster?.nodes).toHaveLength(3)
    const urls = running.endpoints.natsUrl.split(',')
    expect(urls).toHaveLength(3)
    for (const u of urls) expect(u).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/)
    expect(new Set(urls).size).toBe(3)
    for (const s of ['FACTS', 'DERIVED', 'COMMANDS', 'DLQ', 'HELLO', 'KV_ben-checkpoints']) {
      const i = await info(s)
      expect(i.config.num_replicas, s).toBe(3)
    }
  })

  it(
    'loses and duplicates nothing when a node dies mid-ingest and mid-processing; processing goes on; the node catches up',
    async () => {
      const publisher = new FactPublisher(client, running.ctx.subjects, running.ctx.codec, { waitForStreamMs: 120_000 })
      // Mid-ingest: the FACTS leader dies as the publisher's answer for the N/4th fact comes in
      // (the kill is in the outcome callback, so it cannot miss the moment on a busy machine).
      const victim = await leaderNode('FACTS')
      const node = running.cluster!.nodes[victim]
      const release = node.holdRestarts()
      const killedPid = node.pid
      let stored = 0
      let atKill: { stored: number; projected: number } | undefined
      const publishing: Promise<PublishReport> = publisher.publishAll(metricFacts(N), (o) => {
        if (o.status !== 'failed') stored++
        if (stored === N / 4 && !atKill) {
          process.kill(killedPid, 'SIGKILL')
          atKill = { stored, projected: -1 }
        }
      })
      await waitFor('the kill', () => atKill, LONG, 20)
      atKill!.projected = (await chCount()).rows
      console.log(`killed node ${victim + 1} (pid ${killedPid}, leader of FACTS) with ${atKill!.stored} of ${N} facts stored and ${atKill!.projected} projected`)

      // Without it: FACTS elects another leader; publishing and processing go on.
      await waitFor('another FACTS leader', async () => (await leaderNode('FACTS')) !== victim, LONG, 250)
      await waitFor('publishing to go on without the node', () => stored >= Math.min(N, atKill!.stored + 1000), LONG, 50)
      await waitFor('processing to go on without the node', async () => (await chCount()).rows >= atKill!.projected + 1000, LONG, 250)
      expect(node.pid).toBe(killedPid) // still down: held
      const report = await publishing
      expect(report.failed, JSON.stringify(report.failures.slice(0, 3))).toBe(0)
      expect(report.stored + report.duplicate).toBe(N)

      // Back: the supervisor starts it on its ports with its store; it catches up from its peers.
      release()
      await waitFor('the node restarted', () => node.restarts >= 1 && node.pid !== killedPid, LONG, 100)
      const name = `ben-n${victim + 1}`
      await waitFor(`${name} caught up on FACTS`, () => caughtUp('FACTS', name), LONG, 500)

      // Mid-processing: more facts, and the DERIVED leader dies when half of them are stored (the
      // kill is in the outcome callback, so the other half is stored and processed after it even
      // on a fast machine; reading ClickHouse first and killing after could find everything done).
      const victim2 = await leaderNode('DERIVED')
      const node2 = running.cluster!.nodes[victim2]
      const pid2 = node2.pid
      let stored2 = 0
      let storedAtKill2: number | undefined
      const second = publisher.publishAll(metricFacts(MORE, N), (o) => {
        if (o.status !== 'failed') stored2++
        if (stored2 === MORE / 2 && storedAtKill2 === undefined) {
          process.kill(pid2, 'SIGKILL')
          storedAtKill2 = stored2
        }
      })
      await waitFor('the DERIVED leader killed', () => storedAtKill2, LONG, 20)
      const midway = (await chCount()).rows
      console.log(
        `killed node ${victim2 + 1} (pid ${pid2}, leader of DERIVED) with ${storedAtKill2} of ${MORE} more facts stored and ${midway} of ${N + MORE} projected; the supervisor restarts it`,
      )
      const report2 = await second
      expect(report2.failed, JSON.stringify(report2.failures.slice(0, 3))).toBe(0)
      expect(report2.stored + report2.duplicate).toBe(MORE)

      // Everything once in ClickHouse; nothing left to redeliver; every replica current.
      // Pulls dropped by the leader change are pulled again after two missed 5 s heartbeats
      // (streams/consumer.ts PULL_HEARTBEAT_MS), no longer ~30 s: 4 min is generous, not 8.
      const killedAt = Date.now()
      await waitFor('every fact projected', async () => (await chCount()).rows >= N + MORE || undefined, LONG, 500).catch(async (err: Error) => {
        const proj = await jetstreamManager(running.ctx.nc, { timeout: 10_000 })
          .then((m) => m.consumers.info('DERIVED', 'proj-facts-scrubbed'))
          .catch((e: Error) => ({ error: e.message }))
        // Where the rows went missing: in scrub (fewer distinct facts in DERIVED than published) or in the projector.
        const derived = await readStream(running.ctx.nc, 'DERIVED', 'ben.scrubbed.>').catch(() => [])
        const distinct = new Set(derived.map((m) => m.fact.id)).size
        throw new Error(
          `${err.message}: ${JSON.stringify(await chCount())} rows; DERIVED holds ${derived.length} scrubbed messages of ${distinct} distinct facts; consumer proj-facts-scrubbed ${JSON.stringify(proj)}; Ben's log:\n${logged()}`,
        )
      })
      console.log(`every fact projected ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the DERIVED leader was killed (${N + MORE - midway} facts were left)`)
      await waitFor('scrub settled', () => consumerSettled(running.ctx.nc, 'FACTS', 'stage-scrub-routine'), LONG, 500)
      await waitFor('the second node restarted', () => node2.pid !== pid2, LONG, 100)
      for (const s of ['FACTS', 'DERIVED']) await waitFor(`ben-n${victim2 + 1} caught up on ${s}`, () => caughtUp(s, `ben-n${victim2 + 1}`), LONG, 500)
      expect((await info('FACTS')).state.messages).toBe(N + MORE)
      expect(await chCount()).toEqual({ rows: N + MORE, unique: N + MORE })
      expect(storedAtKill2).toBeLessThan(MORE) // the second half was stored, and so processed, after the kill
      await publisher.close()
    },
    LONG * 4,
  )
})
