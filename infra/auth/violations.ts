import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core'

/** A publish or subscription the server refused for this connection's identity. */
export interface PermissionViolation {
  readonly operation: 'publish' | 'subscription'
  readonly subject: string
  readonly queue?: string
  /** The server's words, e.g. `Permissions Violation for Publish to "ben.cmd.web-3"`. */
  readonly message: string
}

/**
 * Calls `fn` for every permissions violation the server reports on `nc`. The server answers a
 * refused publish with an `-ERR` (the publish itself returns normally; a request fails with a
 * RequestError) and a refused subscription the same way (nats.js closes that subscription:
 * `sub.closed` resolves with the PermissionViolationError). nats.js surfaces both as a status
 * event `{ type: 'error', error: PermissionViolationError }`: that is the one reliable place,
 * and what this watches. Returns a function that stops watching.
 */
export function watchPermissionViolations(nc: NatsConnection, fn: (v: PermissionViolation) => void): () => void {
  const it = nc.status()
  let stopped = false
  void (async () => {
    for await (const s of it) {
      if (stopped) break
      if (s.type !== 'error' || !(s.error instanceof PermissionViolationError)) continue
      const e = s.error
      fn({ operation: e.operation === 'subscription' ? 'subscription' : 'publish', subject: e.subject, ...(e.queue ? { queue: e.queue } : {}), message: e.message })
    }
  })()
  return () => {
    stopped = true
    ;(it as { stop?: () => void }).stop?.()
  }
}
