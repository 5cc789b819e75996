import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream'
import { Bucket } from '@nats-io/kv'
import type { KV } from './kv.js'

/** The latest entry of one key, as `kv.get` would give it. */
export interface KvLatest {
  readonly key: string
  readonly value: Uint8Array
  /** The bucket revision (stream sequence) of this entry. */
  readonly revision: number
  readonly operation: 'PUT' | 'DEL' | 'PURGE'
}

/**
 * Messages asked for per pull: 32 checkpoint chunks (16 MB) in flight at most. By count, not
 * bytes: a pull bounded by `max_bytes` stalled on nats-server 2.9 once fewer bytes were left
 * in it than the next message had.
 */
const PULL_MESSAGES = 32

/**
 * The latest entry of every key of `kv` that matches `keyFilter` (a KV key with `*` / `>`
 * wildcards), in revision order, read in bulk: one ordered consumer on the bucket's stream with
 * `deliver_policy: last_per_subject`, which streams the entries at wire speed where one `kv.get`
 * per key pays a request/reply each (a 512 KB checkpoint chunk took ~15 ms that way). Each entry
 * is exactly what `kv.get(key)` returns at the time the consumer was created (delete and purge
 * markers included, with their operation): the bucket's semantics are unchanged, and nothing
 * is left on the server (the consumer is ephemeral and deleted at the end).
 *
 * Undefined when `kv` is not a JetStream bucket this reader knows (the caller reads key by key).
 */
export function kvLatest(kv: KV, keyFilter: string): AsyncIterable<KvLatest> | undefined {
  if (!(kv instanceof Bucket)) return undefined
  const bucket = kv
  return {
    async *[Symbol.asyncIterator]() {
      const c = await bucket.js.consumers.get(bucket.stream, { filter_subjects: `${bucket.prefix}.${keyFilter}`, deliver_policy: DeliverPolicy.LastPerSubject })
      let messages: ConsumerMessages | undefined
      try {
        // the keys matching when the consumer was created: the end (a message's own `pending`
        // does not count down to 0 under last_per_subject on nats-server 2.9)
        let left = (await c.info(true)).num_pending
        if (left === 0) return
        messages = await c.consume({ max_messages: PULL_MESSAGES })
        const skip = bucket.prefix.length + 1
        for await (const m of messages) {
          const op = m.headers?.get('KV-Operation')
          yield { key: m.subject.slice(skip), value: m.data, revision: m.seq, operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT' }
          if (--left === 0 || m.info.pending === 0) return
        }
      } finally {
        messages?.stop()
        void c.delete().catch(() => undefined)
      }
    },
  }
}
