import type { NatsConnection } from '@nats-io/nats-core'

/**
 * What is waiting for a connection's next reconnect, per connection, with one status listener
 * each. nats.js fails nothing in flight when its connection drops: a request sent on the old
 * connection, or while it was down (the client discards what it buffered meanwhile), is lost and
 * waits out its whole timeout. A caller whose request is idempotent sends it again at once instead.
 */
const waiting = new WeakMap<NatsConnection, Set<() => void>>()

/**
 * Calls `fn` (once) at the next reconnect of `nc`, unless the returned cancel is called first.
 * A reconnect is when the client has a new connection; what is sent after it goes out on it.
 */
export function onNextReconnect(nc: NatsConnection, fn: () => void): () => void {
  let set = waiting.get(nc)
  if (!set) {
    const s = new Set<() => void>()
    set = s
    waiting.set(nc, s)
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type !== 'reconnect') continue
        const due = [...s]
        s.clear()
        for (const f of due) f()
      }
    })().catch(() => undefined)
  }
  const s = set
  s.add(fn)
  return () => void s.delete(fn)
}
