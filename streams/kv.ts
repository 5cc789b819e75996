import { Kvm, type KvOptions } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { onNextReconnect } from './reconnects.js'

/**
 * Ben's KV buckets (config, keys, checkpoints, fleet, notify) are JetStream streams: they are
 * opened here, so nothing outside `streams/` imports the KV client. Callers get Ben's own narrow
 * view of a bucket (`KV`, `KvEntry`): the part of the client's handle Ben uses, so the client's
 * types never leave `streams/` and an upgrade of it is checked here, where the handle is made.
 */

/** What a watch includes (the client's values): the last value of each key, all history, or only updates. */
export const KvWatchInclude = { LastValue: '', AllHistory: 'history', UpdatesOnly: 'updates' } as const
export type KvWatchInclude = (typeof KvWatchInclude)[keyof typeof KvWatchInclude]

/** One entry of a bucket: a value (PUT) or a delete or purge marker. */
export interface KvEntry {
  readonly key: string
  readonly value: Uint8Array
  /** The bucket revision (stream sequence) of this entry. */
  readonly revision: number
  readonly created: Date
  readonly operation: 'PUT' | 'DEL' | 'PURGE'
  /** Bytes of the value. */
  readonly length: number
  /** In a watch: entries still to come of the initial values (0 at the last one). */
  readonly delta?: number
  string(): string
  json<T>(): T
}

/** A running watch: its entries as they come, until `stop()`. */
export interface KvWatch extends AsyncIterable<KvEntry> {
  stop(): void
}

/** A KV bucket as Ben uses it. Keys may hold `*` and `>` wildcards where a filter is taken. */
export interface KV {
  /** The latest entry of a key, or the one at `revision`; null when there is none. */
  get(key: string, opts?: { readonly revision?: number }): Promise<KvEntry | null>
  /** Writes a value; resolves with its revision. `timeout`: ms to wait for the server's ack. */
  put(key: string, value: string | Uint8Array, opts?: { readonly timeout?: number }): Promise<number>
  /** Writes a key that has no value (or only a delete marker); fails when it has one. */
  create(key: string, value: string | Uint8Array): Promise<number>
  /** Writes a key whose latest revision is `revision` (compare-and-set); fails otherwise. */
  update(key: string, value: string | Uint8Array, revision: number): Promise<number>
  /** Marks a key deleted; with `previousSeq`, only while that is its latest revision. */
  delete(key: string, opts?: { readonly previousSeq?: number }): Promise<void>
  /** Removes a key's history, leaving a purge marker. */
  purge(key: string): Promise<void>
  keys(filter?: string): Promise<AsyncIterable<string>>
  watch(opts?: { readonly key?: string; readonly include?: KvWatchInclude }): Promise<KvWatch>
  history(opts?: { readonly key?: string }): Promise<AsyncIterable<KvEntry>>
  /** How many values the bucket holds. */
  status(): Promise<{ readonly values: number }>
}

/** Opens an existing bucket (throws when it is not there). */
export async function openBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  return opened(nc, await new Kvm(nc).open(bucket))
}

/** Creates a bucket, or binds to it when it exists. */
export async function createBucket(nc: NatsConnection, bucket: string, opts: { readonly history?: number } = {}): Promise<KV> {
  return opened(nc, await new Kvm(nc).create(bucket, opts satisfies Partial<KvOptions>))
}

/** The connection each bucket handle was opened on (for `putAgainOnReconnect`). */
const connections = new WeakMap<KV, NatsConnection>()

function opened(nc: NatsConnection, kv: KV): KV {
  connections.set(kv, nc)
  return kv
}

/**
 * `kv.put`, sent again at once when the connection comes back before the write was acknowledged.
 * A write in flight when nats-server went away (killed, restarted after a full disk), or sent while
 * the client was reconnecting, is lost with the old connection, and nats.js fails nothing in flight
 * on a reconnect: the write would wait out its whole timeout (a stage's checkpoint write, and with
 * it the acks of every input it covers, sat up to 30 s after a new server was up). For writes that
 * may be repeated: the same value under the same key (a checkpoint chunk or meta), not a
 * compare-and-set. A write whose handle was not opened here is a plain `put`.
 */
export async function putAgainOnReconnect(kv: KV, key: string, value: string | Uint8Array, opts?: { readonly timeout?: number }): Promise<number> {
  const nc = connections.get(kv)
  if (!nc) return kv.put(key, value, opts)
  for (;;) {
    let cancel = (): void => undefined
    const reconnected = new Promise<'again'>((r) => (cancel = onNextReconnect(nc, () => r('again'))))
    const attempt = kv.put(key, value, opts)
    try {
      const r = await Promise.race([attempt, reconnected])
      if (r !== 'again') return r
      // Lost with the old connection: its timeout, when it comes, is no one's concern.
      attempt.catch(() => undefined)
    } finally {
      cancel()
    }
  }
}
