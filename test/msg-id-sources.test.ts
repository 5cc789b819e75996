/**
 * Nats-Msg-Id de-duplication is per source (issue 15, item 8), against a running `ben up`
 * (real nats-server + chDB): a fact from web-2 carrying web-1's id is another fact and is
 * stored; a message id forged to take web-1's id is refused by scrub (msg_id_mismatch), and
 * the `duplicate` JetStream then answers web-1 is not counted as delivered (id_conflict).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { decodeWith, defaultRegistry, FactCodec, Header, parseEdgeFact, type DeadLetter, type RawFact } from '../schemas/index.js'
import { FactPublisher, Subjects } from '../streams/index.js'
import { benUp, queryWhenReady, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const fact = (source: string, id: string, value: number): RawFact => {
  const r = parseEdgeFact({ lane: 'metric', source, ts: 1_763_700_000_000 + value, name: 'cpu.load', value, id })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

describe('message ids are bound to their source', () => {
  const home = tempDir('ben-msgid-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }
  const codec = new FactCodec()
  let up: Background
  let nc: NatsConnection
  let publisher: FactPublisher

  beforeAll(async () => {
    up = await benUp(env)
    nc = await connect({ servers: up.endpoints().natsUrl })
    publisher = new FactPublisher(nc, new Subjects(), codec, { verifyDuplicates: true })
  })
  afterAll(async () => {
    await publisher?.close()
    await nc?.close()
    await up?.stop('SIGINT')
    home.remove()
  })

  it("stores web-2's fact with web-1's id; refuses a forged message id and does not count web-1's suppressed fact as delivered", async () => {
    expect(await publisher.publish(fact('web-1', 'shared-1', 1))).toMatchObject({ status: 'stored' })
    expect(await publisher.publish(fact('web-2', 'shared-1', 2))).toMatchObject({ status: 'stored' })
    expect(await publisher.publish(fact('web-1', 'shared-1', 1))).toMatchObject({ status: 'duplicate' }) // the same fact: verified

    // web-2 takes web-1's next message id on its own subject before web-1 publishes
    const forged = fact('web-2', 'next-7', 3)
    const e = codec.encode(forged)
    const h = headers()
    h.set(Header.Schema, e.schema)
    h.set(Header.SchemaFp, e.fingerprint)
    await jetstream(nc).publish('ben.fact.metric.web-2', e.data, { headers: h, msgID: 'web-1:next-7' })
    const victim = await publisher.publish(fact('web-1', 'next-7', 4))
    expect(victim).toMatchObject({ status: 'failed', code: 'id_conflict' })
    expect(victim.error).toMatch(/another source used the id/)

    const rows = (await queryWhenReady(env, "SELECT source, value FROM facts WHERE source IN ('web-1', 'web-2') ORDER BY source", (v) => v.length === 2)).map((x) => [
      x.source,
      Number(x.value),
    ])
    expect(rows).toEqual([
      ['web-1', 1],
      ['web-2', 2],
    ])

    const jsm = await jetstreamManager(nc)
    await waitFor(
      'the forgery in the DLQ',
      async () => ((await jsm.streams.info('DLQ', { subjects_filter: 'ben.dlq.scrub' })).state.subjects?.['ben.dlq.scrub'] === 1 ? true : undefined),
      120_000,
      200,
    )
    const c = await jetstream(nc).consumers.get('DLQ')
    const m = await c.next({ expires: 3000 })
    const letter = decodeWith(defaultRegistry(), m!.data, m!.headers?.get(Header.SchemaFp))
    expect(letter.ok && (letter.value as DeadLetter)).toMatchObject({ stage: 'scrub', reason: 'msg_id_mismatch', subject: 'ben.fact.metric.web-2' })
    expect(letter.ok && (letter.value as DeadLetter).message).toMatch(/Nats-Msg-Id 'web-1:next-7' .* is not bound to source 'web-2'/)
  })
})
