import type { NatsConnection } from '@nats-io/nats-core'
import { Gauge, type Registry } from 'prom-client'
import { Bucket, kvName, openBucket, StreamAdmin, StreamName, streamName, type TopologyOptions } from '../streams/index.js'

interface Snapshot {
  readonly streams: Array<{ stream: string; messages: number; bytes: number }>
  readonly consumers: Array<{ stream: string; consumer: string; pending: number; ackPending: number; redelivered: number }>
  readonly dlq: Array<{ stage: string; messages: number }>
  readonly checkpoints: Array<{ key: string; ageSeconds: number }>
  readonly up: number
}

/**
 * Gauges read from JetStream when Prometheus scrapes (never on the hot path): messages and
 * bytes per stream, pending (lag) and ack-pending per durable consumer — stage partitions and
 * projectors alike, so projector lag is `ben_consumer_pending{consumer=~"proj-.*"}` — dead
 * letters per stage, and the age of each checkpoint. Labels are stream, durable, stage and
 * checkpoint names: fixed by the topology, never sources or ids. Ephemeral consumers (`ben
 * tail`, subscriptions) are left out.
 */
export function registerJetStreamCollectors(nc: NatsConnection, topo: TopologyOptions, registry: Registry, now: () => number = Date.now): void {
  let admin: StreamAdmin | undefined
  let inFlight: Promise<Snapshot> | undefined
  let last: { at: number; snap: Snapshot } | undefined
  const snapshot = (): Promise<Snapshot> => {
    // One JetStream round per scrape: every gauge's collect() shares it.
    if (last && now() - last.at < 500) return Promise.resolve(last.snap)
    inFlight ??= read().then(
      (snap) => {
        last = { at: now(), snap }
        inFlight = undefined
        return snap
      },
      () => {
        inFlight = undefined
        return { streams: [], consumers: [], dlq: [], checkpoints: [], up: 0 }
      },
    )
    return inFlight
  }
  const read = async (): Promise<Snapshot> => {
    admin ??= await StreamAdmin.open(nc)
    const streams: Snapshot['streams'] = []
    const consumers: Snapshot['consumers'] = []
    for (const logical of Object.values(StreamName)) {
      const name = streamName(topo, logical)
      const info = await admin.stream(name).catch(() => undefined)
      if (!info) continue
      streams.push({ stream: logical, messages: info.state.messages, bytes: info.state.bytes })
      for await (const c of admin.consumers(name)) {
        if (!c.config.durable_name) continue
        consumers.push({ stream: logical, consumer: c.name, pending: c.num_pending, ackPending: c.num_ack_pending, redelivered: c.num_redelivered })
      }
    }
    const dlq: Snapshot['dlq'] = []
    const dlqInfo = await admin.stream(streamName(topo, StreamName.Dlq), topo.subjects.dlqAll).catch(() => undefined)
    const dlqPrefix = topo.subjects.dlqAll.slice(0, -1)
    for (const [subject, n] of Object.entries(dlqInfo?.state.subjects ?? {}))
      dlq.push({ stage: subject.startsWith(dlqPrefix) ? subject.slice(dlqPrefix.length) : subject, messages: n })
    const checkpoints: Snapshot['checkpoints'] = []
    try {
      const kv = await openBucket(nc, kvName(topo, Bucket.Checkpoints))
      const t = now()
      for await (const key of await kv.keys('>')) {
        if (!key.endsWith('.meta')) continue
        const e = await kv.get(key)
        if (e && e.operation === 'PUT') checkpoints.push({ key: key.slice(0, -'.meta'.length), ageSeconds: Math.max(0, (t - e.created.getTime()) / 1000) })
      }
    } catch {
      // no checkpoints bucket yet
    }
    return { streams, consumers, dlq, checkpoints, up: 1 }
  }
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: Snapshot) => void) => {
    registry.removeSingleMetric(name) // a restart in the same process replaces, never doubles
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await snapshot()
        this.reset()
        fill(this, s)
      },
    })
  }
  gauge('ben_jetstream_up', '1 when the last JetStream read for these metrics succeeded', [], (g, s) => g.set(s.up))
  gauge('ben_stream_messages', 'Messages held by a stream', ['stream'], (g, s) => s.streams.forEach((x) => g.set({ stream: x.stream }, x.messages)))
  gauge('ben_stream_bytes', 'Bytes held by a stream', ['stream'], (g, s) => s.streams.forEach((x) => g.set({ stream: x.stream }, x.bytes)))
  gauge('ben_consumer_pending', 'Messages not yet delivered to a durable consumer (lag), by stream and consumer (stage partition or projector)', ['stream', 'consumer'], (g, s) =>
    s.consumers.forEach((x) => g.set({ stream: x.stream, consumer: x.consumer }, x.pending)),
  )
  gauge('ben_consumer_ack_pending', 'Messages delivered to a durable consumer and not yet acknowledged', ['stream', 'consumer'], (g, s) =>
    s.consumers.forEach((x) => g.set({ stream: x.stream, consumer: x.consumer }, x.ackPending)),
  )
  gauge('ben_consumer_redelivered', 'Messages redelivered to a durable consumer (its acks are late or missing)', ['stream', 'consumer'], (g, s) =>
    s.consumers.forEach((x) => g.set({ stream: x.stream, consumer: x.consumer }, x.redelivered)),
  )
  gauge('ben_dlq_messages', 'Dead letters held in the DLQ stream, by stage', ['stage'], (g, s) => s.dlq.forEach((x) => g.set({ stage: x.stage }, x.messages)))
  gauge('ben_checkpoint_age_seconds', 'Seconds since a stage partition last wrote its checkpoint', ['checkpoint'], (g, s) =>
    s.checkpoints.forEach((x) => g.set({ checkpoint: x.key }, x.ageSeconds)),
  )
}
