/**
 * bench:latency's same-run baseline: the floor a JetStream hop costs on this machine at this
 * moment, without Ben. Messages stamped with their publish time go through a relay of four raw
 * hops (a durable pull consumer per hop that publishes to the next subject, waits for the PubAck,
 * then acks its input: ack after commit, as a stage does), at the sparse load's pace. Each hop's
 * latency is the stream time of the message at that hop minus the publish time, like Ben's hops.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { build, type Histogram } from 'hdr-histogram-js'

const STREAM = 'BENCH_BASELINE'
export const BASELINE_HOPS = 4

export interface BaselineFigures {
  /** Per hop k (1…4): publish → stored at hop k, ms. */
  readonly hops: Array<{ n: number; p50: number; p99: number; max: number }>
}

export async function relayBaseline(nc: NatsConnection, seconds: number, perSecond = 20): Promise<BaselineFigures> {
  const jsm = await jetstreamManager(nc)
  await jsm.streams.delete(STREAM).catch(() => undefined)
  await jsm.streams.add({ name: STREAM, subjects: ['benchbase.>'], storage: StorageType.File })
  const js = jetstream(nc)
  const h: Histogram[] = Array.from({ length: BASELINE_HOPS }, () => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 }))
  const stops: Array<() => void> = []
  const loops: Promise<void>[] = []
  for (let k = 1; k <= BASELINE_HOPS; k++) {
    await jsm.consumers.add(STREAM, { durable_name: `relay-${k}`, filter_subject: `benchbase.${k}`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All })
    const messages = await (await js.consumers.get(STREAM, `relay-${k}`)).consume({ max_messages: 1000 })
    stops.push(() => messages.stop())
    loops.push(
      (async () => {
        for await (const m of messages) {
          const sentAt = Number(new DataView(m.data.buffer, m.data.byteOffset, 8).getFloat64(0))
          h[k - 1].recordValue(Math.max(1, Math.round(Number(m.info.timestampNanos) / 1e6 - sentAt)))
          if (k < BASELINE_HOPS) await js.publish(`benchbase.${k + 1}`, m.data)
          m.ack()
        }
      })(),
    )
  }
  const end = Date.now() + seconds * 1000
  let sent = 0
  while (Date.now() < end) {
    const data = new Uint8Array(64)
    new DataView(data.buffer).setFloat64(0, Date.now())
    await js.publish('benchbase.1', data)
    sent++
    await new Promise((r) => setTimeout(r, 1000 / perSecond))
  }
  // Every message has come out of the last hop (or 10 s have passed).
  for (const deadline = Date.now() + 10_000; h[BASELINE_HOPS - 1].totalCount < sent && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50))
  for (const s of stops) s()
  await Promise.all(loops).catch(() => undefined)
  await jsm.streams.delete(STREAM).catch(() => undefined)
  return { hops: h.map((x) => ({ n: x.totalCount, p50: x.getValueAtPercentile(50), p99: x.getValueAtPercentile(99), max: x.maxValue })) }
}
