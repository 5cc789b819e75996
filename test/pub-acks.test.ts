import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/nats-core'
import { readPubAcks, type PubAckReading } from '../streams/pub-acks.js'
import { parsePubAck } from '../streams/publisher.js'
import { startRestartableNats, type RestartableNats } from './support/restartable.js'
import { waitFor } from './support/servers.js'

/**
 * The PubAck reader takes plain PubAcks off the connection's bytes before nats.js parses them,
 * and leaves it everything else, in order. Against a real nats-server: the PubAcks it writes, in
 * the buffers the socket gives, and a reconnect (nats.js makes a new parser at every dial).
 */
describe('plain PubAcks read off the connection, everything else through nats.js', () => {
  let nats: RestartableNats
  let nc: NatsConnection
  const inbox = createInbox()
  /** By token: the seq of a plain PubAck read by the reader. */
  const fast = new Map<number, number>()
  /** By token: what came through the subscription's callback (nats.js). */
  const slow = new Map<number, { seq?: number; duplicate: boolean; error?: string }>()
  let reading: PubAckReading
  let token = 0

  /** Publishes to JetStream with a reply subject `<inbox>.<token>` and the given message id. */
  const publish = (id: string): number => {
    const h = headers()
    h.set('Nats-Msg-Id', id)
    nc.publish(nats.subjects.fact('metric', 'web-1'), new TextEncoder().encode(id), { reply: `${inbox}.${++token}`, headers: h })
    return token
  }
  const answered = (n: number) => waitFor(`${n} PubAcks`, () => fast.size + slow.size >= n || undefined, 30_000, 20)

  beforeAll(async () => {
    nats = await startRestartableNats()
    nc = await nats.connect()
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, m: Msg) => {
        if (err) return
        slow.set(Number(m.subject.slice(inbox.length + 1)), parsePubAck(m.data))
      },
    })
    const r = readPubAcks(nc, { prefix: Buffer.from(`${inbox}.`), sub, stored: (t, seq) => void fast.set(t, seq) })
    expect(r, "nats.js's parser and protocol handler are reachable").toBeDefined()
    reading = r!
  })
  afterAll(async () => {
    await nc?.close()
    await nats?.remove()
  })

  it('reads the plain PubAcks of a burst, with their seqs, and leaves the duplicates to nats.js', async () => {
    const inBefore = nc.stats().inMsgs
    const tokens = Array.from({ length: 2000 }, (_, i) => publish(`m-${i}`))
    await answered(2000)
    // every PubAck once, by one reader or the other; the plain ones with consecutive seqs in publish order
    expect(fast.size + slow.size).toBe(2000)
    const seqs = tokens.map((t) => fast.get(t) ?? slow.get(t)?.seq)
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[0]! + i)
    for (const a of slow.values()) expect(a.duplicate).toBe(false)
    // most were read here (a frame cut by the end of a socket read, and what follows it in the next, go to nats.js)
    expect(reading.read).toBe(fast.size)
    expect(reading.read).toBeGreaterThan(1000)
    // counted as nats.js counts what it reads
    expect(nc.stats().inMsgs - inBefore).toBe(2000)

    const dup = [publish('m-7'), publish('m-8')]
    await answered(2002)
    for (const t of dup) {
      expect(fast.has(t)).toBe(false)
      expect(slow.get(t)).toEqual({ seq: seqs[dup.indexOf(t) + 7], duplicate: true })
    }
  })

  it('goes on reading after a reconnect (a new parser), and not at all once stopped', async () => {
    const was = fast.size + slow.size
    await nats.stop()
    await nats.start()
    await waitFor('the reconnect', async () => {
      try {
        await nc.flush()
        return true
      } catch {
        return undefined
      }
    })
    const readBefore = reading.read
    for (let i = 0; i < 500; i++) publish(`after-${i}`)
    await answered(was + 500)
    expect(reading.read - readBefore).toBeGreaterThan(250)

    reading.stop()
    const before = { read: reading.read, slow: slow.size }
    const late = Array.from({ length: 50 }, (_, i) => publish(`stopped-${i}`))
    await answered(was + 550)
    expect(reading.read).toBe(before.read)
    for (const t of late) expect(slow.get(t)?.duplicate).toBe(false)
  })
})
