import type { StoredHeaders } from '../streams/index.js'
import { Header } from '../schemas/index.js'
import { SEQ_HEADER } from './record.js'

/** One fact the drain holds, oldest first (consecutive WAL seqs). */
export interface Unconfirmed {
  readonly seq: number
  readonly id: string
  /** JetStream refused its last attempt outright (an API error, not a timeout): certainly not stored. */
  readonly refused: boolean
}

/**
 * How many of the oldest unconfirmed facts JetStream already holds, found without relying
 * on the duplicate window. The sidecar's subjects (`<prefix>.fact.<kind>.<id>`) carry only its
 * own facts, sent in WAL order, and after a disconnect or a restart everything is resent from
 * the oldest unconfirmed fact: what reached the stream is a prefix of the WAL. The drain tags
 * every publish with `Ben-Sidecar-Seq`, so the last stored message of each subject names its
 * exact WAL position (its `Nats-Msg-Id` must match the fact held there too); the furthest of
 * them ends the prefix. The prefix stops before a fact JetStream refused outright.
 *
 * This matters when the bus is away longer than the stream's duplicate window (2 minutes by
 * default): the facts in flight when it went away would otherwise be stored twice. Returns the
 * prefix length (0 when nothing matches). Throws when the stream cannot be read (no direct
 * access, no permission): the caller then relies on the duplicate window.
 */
export async function storedPrefix(
  store: { lastHeaders(stream: string, subject: string): Promise<StoredHeaders | null> },
  stream: string,
  subjects: readonly string[],
  pending: readonly Unconfirmed[],
): Promise<number> {
  if (pending.length === 0) return 0
  let limit = pending.findIndex((p) => p.refused)
  if (limit < 0) limit = pending.length
  const first = pending[0].seq
  let upto = -1
  for (const subject of subjects) {
    // direct get with the subject in the request subject, so a sidecar's permissions can allow
    // exactly its own subjects: $JS.API.DIRECT.GET.<stream>.<prefix>.fact.*.<id>
    const m = await store.lastHeaders(stream, subject)
    const at = Number(m?.get(SEQ_HEADER)) - first
    if (!Number.isSafeInteger(at) || at < 0 || at >= limit) continue
    if (pending[at].seq === first + at && pending[at].id === m?.get(Header.MsgId) && at > upto) upto = at
  }
  return upto + 1
}

/**
 * What a failed reconciliation means: `off` — no permission, it will not work later either;
 * `retry` — no responders (JetStream still starting), worth a few more tries before the probe;
 * `skip` — anything else (a timeout): go on without it this time.
 */
export function reconcileFailure(err: unknown): 'off' | 'retry' | 'skip' {
  const e = err as { name?: unknown; message?: unknown } | null
  const text = `${String(e?.name)} ${String(e?.message)}`
  if (/permission/i.test(text)) return 'off'
  if (/no ?responders|503/i.test(text)) return 'retry'
  return 'skip'
}
