import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactPublisher } from '../streams/index.js'
import { connect, type Ben } from '../client/index.js'
import { benUp, type Background } from './support/cli.js'
import { consumerSettled, startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { metricFacts } from './support/facts.js'

// Two halves (see the case); large enough that the first rows show while the first half is still
// being scrubbed and projected, so the kill usually comes between a batch's write and its ack.
// (The kill lands mid-projection whatever N: the second half is stored while ben up is frozen.)
const N = 20_000
const BASE = 1_763_700_000_000

describe('projector crash and restart', () => {
  let nats: TestNats
  const home = tempDir('ben-crash-')
  let up: Background | undefined

  beforeAll(async () => {
    nats = await startTestNats()
  })
  afterAll(async () => {
    await up?.stop('SIGKILL')
    await nats?.stop()
    home.remove()
  })

  const stats = async (client: Ben) => {
    const r = await client.query(`SELECT count() AS rows, uniqExact(id) AS ids, uniqExact(ts) AS tss, min(ts) AS lo, max(ts) AS hi FROM facts`)
    const o = r.objects()[0]
    return { rows: Number(o.rows), ids: Number(o.ids), tss: Number(o.tss), lo: String(o.lo), hi: String(o.hi) }
  }

  it(`SIGKILL mid-projection, restart: exactly ${N.toLocaleString()} rows, no duplicates, no gaps`, async () => {
    // The first half is stored before ben up starts; the second half while ben up is frozen
    // (SIGSTOP) just before its SIGKILL: whatever the machine's speed, the kill comes while part
    // of the facts is projected and the rest is not (the assertion does not race the projector).
    const publisher = new FactPublisher(nats.nc, nats.subjects)
    expect((await publisher.publishAll(metricFacts(N / 2))).stored).toBe(N / 2)

    const env = { BEN_HOME: home.path, BEN_NATS_URL: nats.server.url, BEN_NO_CONTAINERS: '1' }
    up = await benUp(env)
    let client = await connect({ home: home.path, natsUrl: nats.server.url })
    const seenBeforeKill = await waitFor(
      'a partial projection',
      async () => {
        const s = await stats(client)
        return s.rows > 0 ? s.rows : undefined
      },
      60_000,
      20,
    )
    expect(up.child.kill('SIGSTOP')).toBe(true)
    // Frozen: the projector can write nothing more. The second half comes now, so at the kill
    // at least N/2 facts are stored and not projected.
    expect((await publisher.publishAll(metricFacts(N / 2, N / 2))).stored).toBe(N / 2)
    await publisher.close()
    const jsm = await jetstreamManager(nats.nc)
    const scrub = await jsm.consumers.info('FACTS', 'stage-scrub-routine')
    const projector = await jsm.consumers.info('DERIVED', 'proj-facts-scrubbed')
    console.log(
      `projector crash: ${seenBeforeKill} rows seen; when ben up was killed scrub had acknowledged ${scrub.ack_floor.stream_seq} of ${N} facts, the projector ${projector.ack_floor.stream_seq} (${projector.num_ack_pending} delivered and not acknowledged)`,
    )
    await up.stop('SIGKILL')
    await client.close()
    expect(seenBeforeKill).toBeGreaterThan(0)
    expect(seenBeforeKill).toBeLessThanOrEqual(N / 2)
    expect(scrub.ack_floor.stream_seq, 'the stages had input left when ben up was killed').toBeLessThan(N)

    up = await benUp(env)
    client = await connect({ home: home.path, natsUrl: nats.server.url })
    const final = await waitFor(
      'the full projection',
      async () => {
        const s = await stats(client)
        return s.rows >= N ? s : undefined
      },
      // 100k facts through scrub and the projector after a restart: a minute when the machine is
      // quiet, several when it is not. A generous bound, not a timing claim.
      300_000,
      200,
    ).catch(async (err) => {
      const { readFileSync } = await import('node:fs')
      console.log('LOG', readFileSync(home.path + '/ben.log', 'utf8').slice(-3000), await stats(client), up?.output())
      throw err
    })
    // Nothing left to deliver or redeliver: no batch can land twice after this.
    await waitFor('the projector consumer settled', () => consumerSettled(nats.nc, 'DERIVED', 'proj-facts-scrubbed'), 180_000, 100)
    const settled = await stats(client)
    await client.close()
    expect(settled).toEqual(final)
    expect(final.rows).toBe(N)
    expect(final.ids).toBe(N)
    // metricFacts(i) has ts = BASE + i: N distinct timestamps from BASE to BASE+N-1 means no gaps.
    expect(final.tss).toBe(N)
    expect(new Date(final.lo + 'Z').getTime()).toBe(BASE)
    expect(new Date(final.hi + 'Z').getTime()).toBe(BASE + N - 1)
    expect(await up.stop('SIGINT')).toBe(0)
  }, 600_000)
})
