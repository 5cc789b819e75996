/**
 * repositionDurable (streams/consumer.ts) against a real nats-server: a durable is re-created at
 * its ack floor, or the call fails. A durable left in place when its delete fails keeps its
 * delivery pointer, and the next ack-all ack would cover the messages delivered and never settled.
 * The delete is made to fail here by a user who may not send it (the server drops the request, as
 * an unavailable consumer leader in a cluster can).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { startNatsServer, type NatsServerHandle } from '../infra/nats-server.js'
import { repositionDurable } from '../streams/index.js'
import { tempDir } from './support/servers.js'

const STREAM = 'REPO'
const DURABLE = 'follower'

describe('repositionDurable (real nats-server)', () => {
  const dir = tempDir('ben-reposition-')
  let server: NatsServerHandle
  let admin: NatsConnection
  let noDelete: NatsConnection

  beforeAll(async () => {
    const auth = join(dir.path, 'auth.conf')
    writeFileSync(
      auth,
      `authorization {
  users = [
    { user: admin, password: admin }
    { user: nodelete, password: nodelete, permissions: { publish: { allow: [">"], deny: ["$JS.API.CONSUMER.DELETE.>"] }, subscribe: { allow: [">"] } } }
  ]
}
`,
    )
    server = await startNatsServer({ storeDir: join(dir.path, 'nats'), configFile: auth })
    admin = await connect({ servers: server.url, user: 'admin', pass: 'admin' })
    noDelete = await connect({ servers: server.url, user: 'nodelete', pass: 'nodelete' })
    const jsm = await jetstreamManager(admin)
    await jsm.streams.add({ name: STREAM, subjects: ['repo.>'] })
    const js = jetstream(admin)
    for (let i = 1; i <= 10; i++) await js.publish(`repo.m.${i}`, new Uint8Array([i]))
    await jsm.consumers.add(STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.All })
    // Five delivered and none acked: the durable's pointer is past them, its ack floor is not.
    const c = await jetstream(admin).consumers.get(STREAM, DURABLE)
    let got = 0
    for await (const m of await c.fetch({ max_messages: 5, expires: 10_000 })) got += m ? 1 : 0
    expect(got).toBe(5)
  }, 60_000)

  afterAll(async () => {
    await noDelete?.close().catch(() => undefined)
    await admin?.close().catch(() => undefined)
    await server?.stop()
    dir.remove()
  })

  const durableInfo = async () => (await jetstreamManager(admin)).consumers.info(STREAM, DURABLE)

  it('fails, and leaves the durable as it was, when the delete does not take effect', async () => {
    const before = await durableInfo()
    expect(before.delivered.stream_seq).toBe(5)
    await expect(repositionDurable(noDelete, { stream: STREAM, durable: DURABLE, ackAll: true }, 'ack-floor')).rejects.toThrow()
    const after = await durableInfo()
    expect(after.created).toBe(before.created)
    expect(after.delivered.stream_seq).toBe(5)
  }, 60_000)

  it('re-creates the durable after its ack floor when it can', async () => {
    const before = await durableInfo()
    await repositionDurable(admin, { stream: STREAM, durable: DURABLE, ackAll: true }, 'ack-floor')
    const after = await durableInfo()
    expect(after.created).not.toBe(before.created)
    // Nothing was acked: everything is delivered again, from the first message, in order.
    expect(after.delivered.stream_seq).toBe(0)
    expect(after.num_pending).toBe(10)
  }, 60_000)
})
