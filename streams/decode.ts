import { checkEventTime, checkRawFact, fail, FactCodec, Header, parseEdgeJson, RejectReason, type Fact, type RawFact, type Result } from '../schemas/index.js'
import type { Subjects } from './subjects.js'

const OPEN_BRACE = 0x7b

/** What is read of a message's headers: nats.js's MsgHdrs or a lazy reader of the header bytes. */
export interface HeaderGetter {
  get(name: string): string
}

/**
 * Turns a message into a fact. Avro when it carries `Ben-Schema-Fp`; JSON in the edge shape
 * when it arrived without it on `<prefix>.fact.<kind>.<source>` (any NATS client may publish
 * that). For raw facts the subject the server authorised is the identity: a body whose source
 * or kind disagrees with its subject is refused.
 *
 * A raw fact (on `<prefix>.fact.…`) also passes the door checks of schemas/limits.ts: source
 * name, texts (invalid UTF-8 shows as U+FFFD and is refused, never stored replaced), event time
 * ≤ 2299 and, given `arrivedAtMs` (the message's JetStream store time, so replay decides the
 * same), no further ahead of its arrival than BEN_MAX_FUTURE_SKEW.
 */
export function decodeMessage(codec: FactCodec, subjects: Subjects, subject: string, headers: HeaderGetter | undefined, data: Uint8Array, arrivedAtMs?: number): Result<Fact> {
  const fp = headers?.get(Header.SchemaFp)
  const raw = subjects.parseRaw(subject)
  if (!raw) {
    // Stored in FACTS but not on `<prefix>.fact.<lane>.<source>`: refuse, naming the token.
    const why = subjects.whyNotRaw(subject)
    if (why) return fail(why.reason === 'unknown_lane' ? RejectReason.UnknownLane : RejectReason.BadSubject, why.message)
  }
  if (!fp) {
    if (raw && !raw.scrubbed && data.length > 0 && firstNonSpace(data) === OPEN_BRACE) {
      const j = parseEdgeJson(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'), { lane: raw.kind, source: raw.source }, { arrivedAt: arrivedAtMs })
      return j.ok ? (checkMsgId(headers, j.value, raw.source, subject) ?? j) : j
    }
    return fail(RejectReason.MissingHeader, `message on ${subject} has no ${Header.SchemaFp} header and is not an edge JSON fact`)
  }
  const r = codec.decode(data, fp)
  if (!r.ok || !raw) return r
  const f = r.value
  if (f.kind !== raw.kind) return fail(RejectReason.KindMismatch, `fact ${f.id} is a ${f.kind} but arrived on ${subject}`)
  if (f.source !== raw.source) return fail(RejectReason.Invalid, `source: fact ${f.id} claims source '${f.source}' but arrived on ${subject}`)
  if (!raw.scrubbed) {
    const bad = checkRawFact(f as RawFact) ?? (arrivedAtMs !== undefined ? checkEventTime(f.ts, arrivedAtMs) : null)
    if (bad) return { ok: false, error: bad }
    const mid = checkMsgId(headers, f, raw.source, subject)
    if (mid) return mid
  }
  return r
}

/**
 * JetStream de-duplicates by Nats-Msg-Id across the stream, so Ben binds a raw fact's message
 * id to its source (`<source>:<id>`, streams/publisher.ts factMsgId). A message id naming
 * another source (or any other form than that or the bare fact id) is refused: it could only
 * have been chosen to take an id that belongs to someone else.
 */
function checkMsgId(headers: HeaderGetter | undefined, f: Fact, source: string, subject: string): { ok: false; error: { reason: RejectReason; message: string } } | null {
  const mid = headers?.get(Header.MsgId)
  if (!mid || mid === f.id || (mid.length > source.length && mid.charCodeAt(source.length) === 0x3a && mid.startsWith(source))) return null
  return fail(
    RejectReason.MsgIdMismatch,
    `Nats-Msg-Id '${mid}' of fact ${f.id} on ${subject} is not bound to source '${source}': JetStream de-duplicates by message id across sources, so a raw fact's message id must be '${source}:<id>' (or the fact id, or none)`,
  )
}

function firstNonSpace(data: Uint8Array): number {
  for (let i = 0; i < data.length && i < 64; i++) {
    const b = data[i]
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b
  }
  return -1
}
