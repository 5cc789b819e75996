import { afterEach, describe, expect, it } from 'vitest'
import type { NatsConnection } from '@nats-io/nats-core'
import type { Subscription } from 'rxjs'
import { Bucket, consumeFacts, DeadLetters, FactPublisher, isDeliveryGap, kvName, metrics, openBucket } from '../streams/index.js'
import { FactCodec } from '../schemas/index.js'
import { CheckpointStore, chunked } from '../processors/runner/index.js'
import { startRestartableNats, type RestartableNats } from './support/restartable.js'
import { waitFor } from './support/servers.js'
import { metricFact } from './support/facts.js'

/**
 * Issue 15: after `ben up`'s nats-server was replaced (killed, or restarted after a full disk), a
 * stage could sit idle ~20 s with input waiting. Traced to two things that were in flight when the
 * old server went away, neither of which nats.js fails or re-sends on a reconnect:
 * - the pull consumer's own reset: after missed heartbeats (a wedged server) nats.js asked for the
 *   consumer's info, and when that failed it waited a jittered 15–45 s before asking again,
 *   ignoring the reconnect meanwhile;
 * - a checkpoint write (a KV put) sent to the old server waited out its timeout (5 s, up to 30 s on
 *   a retry), and with it the acks of every input the checkpoint covers.
 * The server is paused (as a wedged one), then SIGKILLed and started again on the same store.
 */
describe('what was in flight when nats-server went away', () => {
  let nats: RestartableNats | undefined
  const conns: NatsConnection[] = []
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close().catch(() => undefined)
    await nats?.remove()
    nats = undefined
  })

  /** Pauses the server (SIGSTOP), then kills and restarts it on the same port and store. */
  const pausedThenReplaced = async (n: RestartableNats, whilePaused: () => Promise<void>) => {
    const pid = n.pid!
    process.kill(pid, 'SIGSTOP')
    try {
      await whilePaused()
    } finally {
      await n.kill()
    }
    await n.start()
  }

  it('a consumer whose pull was dropped by a wedged server pulls again as soon as the new server is up, before it misses heartbeats again', async () => {
    nats = await startRestartableNats()
    const nc = await nats.connect()
    const pubNc = await nats.connect()
    conns.push(nc, pubNc)
    const codec = new FactCodec()
    const publisher = new FactPublisher(pubNc, nats.subjects, codec)
    const stage = 'reconnect-probe'
    const dlq = new DeadLetters(publisher, nats.subjects, codec, stage)
    const got = new Set<string>()
    let failure: unknown
    // As a stage does: a delivery gap (the killed server had not stored the consumer's last delivered
    // position, so the new one numbers its deliveries again) is followed again from the last ack.
    // A gap is only seen on a delivery: the consumer has pulled from the new server by then.
    const follow = (): Subscription =>
      consumeFacts(nc, codec, nats!.subjects, { stream: 'FACTS', durable: stage, filterSubject: 'ben.fact.metric.>', stage, dlq, ackAll: true }).subscribe({
        next: (e) => {
          got.add(e.fact.id)
          e.ack()
        },
        error: (err: unknown) => {
          if (isDeliveryGap(err)) sub = follow()
          else failure = err
        },
      })
    let sub = follow()
    const missed = async () => (await metrics.consumerEvents.get()).values.find((v) => v.labels.stage === stage && v.labels.type === 'heartbeats_missed')?.value ?? 0
    try {
      const one = await publisher.publish(metricFact(1))
      expect(one.status).toBe('stored')
      await waitFor('the first fact to be delivered', () => got.has(one.id), 60_000)
      await pausedThenReplaced(nats, async () => {
        // Paused, the server sends no heartbeat: the consumer notices (two missed) and resets its pull.
        await waitFor('the consumer to miss heartbeats from the paused server', async () => (await missed()) > 0, 120_000, 200)
      })
      const before = await missed()
      const out = await publisher.publish(metricFact(2))
      expect(out.status).toBe('stored')
      // The consumer's heartbeat monitor restarts with the new connection: a consumer that has not
      // pulled again misses its heartbeats within two of them; one that has gets the fact at once.
      const first = await waitFor(
        'the fact published after the restart, or missed heartbeats',
        async () => (got.has(out.id) ? 'delivered' : (await missed()) > before ? 'missed heartbeats again' : undefined),
        120_000,
        50,
      )
      expect(failure).toBeUndefined()
      expect(first).toBe('delivered')
    } finally {
      sub.unsubscribe()
      await publisher.close()
    }
  }, 300_000)

  it('a checkpoint write sent to a server that then died is sent again once the new server is up, not after its timeout', async () => {
    nats = await startRestartableNats()
    const nc = await nats.connect()
    conns.push(nc)
    const kv = await openBucket(nc, kvName(nats.topo, Bucket.Checkpoints))
    // A write timeout far beyond the test's deadline: only a write sent again on the reconnect can finish in time.
    const hour = 3_600_000
    const store = new CheckpointStore(kv, 'stage.inflight', undefined, { putTimeoutMs: hour, deadlineMs: hour })
    const head = { stage: 'inflight', version: 't', positions: { metric: 7 }, applied: 7 }
    const segment = (seq: number) => ({ seq, kind: 'log' as const, chunks: chunked(new Uint8Array(4096).fill(seq), 1024), keepFrom: seq })
    // A first checkpoint while the server answers: the next one goes straight to its writes.
    await store.append({ ...head, positions: { metric: 6 } }, segment(6))
    let appended: Promise<unknown> | undefined
    let done = false
    await pausedThenReplaced(nats, async () => {
      // Sent to the paused server (or, once it is killed, to no server): never answered.
      appended = store.append(head, segment(7)).then(() => (done = true))
      // (failing the test, it would reject after the connection is closed: not unhandled)
      appended.catch(() => undefined)
    })
    await waitFor('the checkpoint write to be acknowledged by the new server', () => done, 120_000, 50)
    await appended
    const back = await new CheckpointStore(kv, 'stage.inflight').open()
    expect(back?.positions).toEqual({ metric: 7 })
    const bytes: number[] = []
    await back!.replay((_s, c) => void bytes.push(...c))
    expect(bytes).toHaveLength(4096)
    expect(bytes.every((b) => b === 7)).toBe(true)
  }, 300_000)
})
