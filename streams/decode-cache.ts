import type { Fact, Result } from '../schemas/index.js'

/**
 * Decode once per process: the facts decoded from one stream, shared by every consumer of that
 * stream on the same connection (a stage and the projectors that read its output, policy and
 * incident reading the same anomalies). A message is identified by its stream sequence; the
 * entry also keeps the subject and bytes it was decoded from and is used only when they are
 * the same (a stream deleted and re-created restarts its sequence). The decoded fact is shared:
 * consumers must not change it (stages are pure, projectors turn it into rows).
 *
 * Entries are kept only while two or more consumers of the stream run in this process (one
 * consumer alone gains nothing from keeping them), and at most ENTRIES per stream, oldest
 * dropped first: consumers far apart in a stream each decode for themselves.
 */
export interface SharedDecodes {
  decode(seq: number, subject: string, data: Uint8Array, decode: () => Result<Fact>): Result<Fact>
  close(): void
}

/** Facts kept per stream: a few pull batches of every consumer. */
const ENTRIES = 16_384

interface Entry {
  readonly subject: string
  readonly data: Uint8Array
  readonly result: Result<Fact>
}

class StreamDecodes {
  readers = 0
  readonly entries = new Map<number, Entry>()
}

const byConnection = new WeakMap<object, Map<string, StreamDecodes>>()

export const decodeStats = { hits: 0, misses: 0 }

/** The shared decodes of `stream` on connection `nc`; close() when the consumer stops. */
export function sharedDecodes(nc: object, stream: string): SharedDecodes {
  let streams = byConnection.get(nc)
  if (!streams) byConnection.set(nc, (streams = new Map()))
  let s = streams.get(stream)
  if (!s) streams.set(stream, (s = new StreamDecodes()))
  const shared = s
  shared.readers++
  let closed = false
  return {
    decode(seq, subject, data, decode) {
      const e = shared.entries.get(seq)
      if (e && e.subject === subject && sameBytes(e.data, data)) {
        decodeStats.hits++
        return e.result
      }
      decodeStats.misses++
      const result = decode()
      if (shared.readers > 1) {
        shared.entries.set(seq, { subject, data, result })
        if (shared.entries.size > ENTRIES) shared.entries.delete(shared.entries.keys().next().value!)
      }
      return result
    },
    close() {
      if (closed) return
      closed = true
      if (--shared.readers <= 1) shared.entries.clear()
      if (shared.readers === 0) streams.delete(stream)
    },
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
