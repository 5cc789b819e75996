import { Kvm, KvWatchInclude, type KV, type KvEntry, type KvOptions } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'

/**
 * Ben's KV buckets (config, keys, checkpoints, fleet, notify) are JetStream streams: they are
 * opened here, so nothing outside `streams/` imports the KV client. The bucket handle is the
 * client's own (`get`, `put`, `create`, `update`, `watch`, `keys`, `history`).
 */
export type { KV, KvEntry }
export { KvWatchInclude }

/** Opens an existing bucket (throws when it is not there). */
export function openBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(nc).open(bucket)
}

/** Creates a bucket, or binds to it when it exists. */
export function createBucket(nc: NatsConnection, bucket: string, opts: Partial<KvOptions> = {}): Promise<KV> {
  return new Kvm(nc).create(bucket, opts)
}
