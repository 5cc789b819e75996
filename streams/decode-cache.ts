import type { Fact, Result } from '../schemas/index.js'
import { subjectMatches } from './subjects.js'

/**
 * Decode once per process: the facts decoded from one stream, shared by every consumer of that
 * stream on the same connection (a stage and the projectors that read its output, policy and
 * incident reading the same anomalies). A message is identified by its stream sequence; the
 * entry also keeps the subject and bytes it was decoded from and is used only when they are
 * the same (a stream deleted and re-created restarts its sequence). The decoded fact is shared:
 * consumers must not change it (stages are pure, projectors turn it into rows).
 *
 * Entries are kept only for subjects that two or more consumers of the stream in this process
 * read (by their filter subjects: one consumer alone gains nothing from keeping them), and at
 * most ENTRIES per stream, oldest dropped first: consumers far apart in a stream each decode for
 * themselves. (`ben up`'s main thread reads DERIVED with five projectors on one connection,
 * and only the facts projector reads the scrubbed facts, the bulk of it: kept, they held up to
 * ENTRIES decoded facts and their bytes for nothing, long enough to reach the old generation.)
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
  /** The filter subject of each consumer reading the stream here (undefined: all of it). */
  readonly readers: Array<string | undefined> = []
  readonly entries = new Map<number, Entry>()
  /** Per subject: do two readers' filters match it (worth keeping its decode)? Cleared as readers come and go. */
  readonly sharing = new Map<string, boolean>()

  isShared(subject: string): boolean {
    if (this.readers.length < 2) return false
    let v = this.sharing.get(subject)
    if (v === undefined) {
      let n = 0
      for (const f of this.readers) if (f === undefined || subjectMatches(f, subject)) n++
      v = n > 1
      if (this.sharing.size >= SUBJECTS) this.sharing.clear()
      this.sharing.set(subject, v)
    }
    return v
  }
}

/** Subjects whose sharing is remembered per stream (one per lane and source: bounded, then started again). */
const SUBJECTS = 4096

const byConnection = new WeakMap<object, Map<string, StreamDecodes>>()

export const decodeStats = { hits: 0, misses: 0 }

/** The shared decodes of `stream` on connection `nc` for a consumer of `filter` (default: the whole stream); close() when it stops. */
export function sharedDecodes(nc: object, stream: string, filter?: string): SharedDecodes {
  let streams = byConnection.get(nc)
  if (!streams) byConnection.set(nc, (streams = new Map()))
  let s = streams.get(stream)
  if (!s) streams.set(stream, (s = new StreamDecodes()))
  const shared = s
  shared.readers.push(filter)
  shared.sharing.clear()
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
      if (shared.isShared(subject)) {
        shared.entries.set(seq, { subject, data, result })
        if (shared.entries.size > ENTRIES) shared.entries.delete(shared.entries.keys().next().value!)
      }
      return result
    },
    close() {
      if (closed) return
      closed = true
      shared.readers.splice(shared.readers.indexOf(filter), 1)
      shared.sharing.clear()
      if (shared.readers.length <= 1) shared.entries.clear()
      if (shared.readers.length === 0) streams.delete(stream)
    },
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
