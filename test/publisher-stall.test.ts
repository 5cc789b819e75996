import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactCodec } from '../schemas/index.js'
import { FactPublisher, type PublishOutcome } from '../streams/index.js'
import { startTestNats, type TestNats } from './support/servers.js'
import { metricFact } from './support/facts.js'

/** Blocks this thread (the event loop with it) for `ms`, as a long synchronous task or a starved CPU would. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * A PubAck that has arrived but was not read yet (the process's event loop was busy) is not a lost
 * PubAck. The publisher's timeout sweep runs in the timers phase, before the socket is read: it must
 * read what is waiting before it sends anything again, or a retry later than JetStream's duplicate
 * window stores the fact a second time (seen as 2 derived facts stored twice after a restart in
 * test/faults.test.ts, where the window is 1 s).
 */
describe('the publisher does not retry a fact whose PubAck is waiting unread', () => {
  let nats: TestNats
  beforeAll(async () => {
    // A window far shorter than the stall: a retry after it would be stored again.
    nats = await startTestNats({ duplicateWindowMs: 200 })
  })
  afterAll(async () => {
    await nats?.stop()
  })

  it('after an event-loop stall longer than the ack timeout and the duplicate window, each fact is stored once and reported stored', async () => {
    const publisher = new FactPublisher(nats.nc, nats.subjects, new FactCodec(), { ackTimeoutMs: 300 })
    try {
      const facts = Array.from({ length: 50 }, (_, i) => metricFact(10_000 + i))
      const outcomes: PublishOutcome[] = []
      for (const f of facts) expect(publisher.trySend(f, undefined, (o) => outcomes.push(o))).toBe(true)
      // The frames leave with this flush; the PubAcks come back while the loop is blocked.
      await nats.nc.flush()
      blockEventLoop(1500)
      await publisher.flush()
      expect(outcomes.map((o) => o.status)).toEqual(facts.map(() => 'stored'))
      const info = await (await jetstreamManager(nats.nc)).streams.info('FACTS')
      expect(info.state.messages).toBe(facts.length)
    } finally {
      await publisher.close()
    }
  })
})
