import type { MsgHdrs } from '@nats-io/nats-core'
import type { Encoded, Fact } from '../schemas/index.js'
import { factHeaderBlock, preEncodedHeaders, withHeaderLines } from '../streams/index.js'
import { HEADER_PREFIX } from '../streams/publisher.js'
import { putBytes, putString } from '../streams/frames.js'
import { ChunkLedger } from '../schemas/chunks.js'

/**
 * What the sidecar stores in one WAL record: everything the drainer needs to publish the fact
 * without decoding or re-encoding it.
 *
 *   0   u8   format version = 1
 *   1   u16  subject length (bytes), then the subject (UTF-8): `<prefix>.fact.<kind>.<id>`
 *   .   u16  id length, then the fact id (ASCII): for the status and the outcome
 *   .   u16  header block length, then the NATS header block, ready to send:
 *            `NATS/1.0\r\nNats-Msg-Id: <id>\r\nBen-Schema: <name>\r\nBen-Schema-Fp: <fp>\r\n\r\n`
 *   .   the Avro-encoded fact (FactCodec, the schema named in the headers)
 *
 * Integers are little-endian. The header block is streams' `factHeaderBlock`, stored ready to
 * send so that a backlog drains at the speed of the socket.
 */
export const RECORD_VERSION = 1

export interface SidecarRecord {
  readonly subject: string
  readonly id: string
  /** The NATS header block (Nats-Msg-Id, Ben-Schema, Ben-Schema-Fp). */
  readonly headers: Uint8Array
  /** The Avro bytes of the fact. */
  readonly data: Uint8Array
}

/** Frames an encoded fact and its subject as one WAL record. */
export function frameRecord(subject: string, enc: Encoded): Buffer {
  // The message id is bound to the source (the subject's last token), as factMsgId does: another
  // sidecar's fact with the same id is another message. The record keeps it as its id.
  const id = `${subject.slice(subject.lastIndexOf('.') + 1)}:${enc.id}`
  const hdr = factHeaderBlock(id, enc.schema, enc.fingerprint)
  const subjectBytes = Buffer.byteLength(subject, 'utf8')
  const idBytes = id.length
  const hdrBytes = hdr.length
  if (subjectBytes > 0xffff || idBytes > 0xffff || hdrBytes > 0xffff) throw new RangeError(`sidecar record: subject, id or headers of fact ${id} longer than 65535 bytes`)
  const out = Buffer.allocUnsafe(1 + 2 + subjectBytes + 2 + idBytes + 2 + hdrBytes + enc.data.length)
  let o = 0
  out[o++] = RECORD_VERSION
  out.writeUInt16LE(subjectBytes, o)
  o += 2
  o += out.write(subject, o, 'utf8')
  out.writeUInt16LE(idBytes, o)
  o += 2
  o += out.write(id, o, 'latin1')
  out.writeUInt16LE(hdrBytes, o)
  o += 2
  o += out.write(hdr, o, 'latin1')
  out.set(enc.data, o)
  return out
}

/**
 * Records are cut from chunks of 1 MiB (each record a view of one; the WAL copies them when it
 * writes), cut from again once every record cut from them was given back (`releaseRecords`).
 */
const chunks = new ChunkLedger(1024 * 1024)
/** Where the next record is cut from in the current chunk. */
let arenaAt = 0

/**
 * Gives back records made by `frameFact` that nothing will read again (the WAL has copied them:
 * their append settled): the chunk they were cut from is cut from again once all its records are
 * back. Only for records of `frameFact`; each given back once.
 */
export function releaseRecords(records: readonly Uint8Array[]): void {
  for (let i = 0; i < records.length; i++) chunks.back(records[i].buffer, true)
}

/** What frameFact needs of the codec: the schema of a kind and an encoder into a buffer. */
export interface FactEncoder {
  writer(kind: Fact['kind']): { readonly name: string; readonly fingerprint: string }
  encodeInto(fact: Fact, buf: Buffer, pos: number): number
}

/**
 * `frameRecord(subject, codec.encode(fact))` without the Avro bytes apart: the record's head and
 * the fact's Avro bytes written once, into a chunk shared by the records framed after it.
 */
export function frameFact(subject: string, codec: FactEncoder, fact: Fact): Buffer {
  const w = codec.writer(fact.kind)
  // the message id `<source>:<fact id>` (source: the subject's last token), written from its two
  // parts (latin1, one byte a unit: the same bytes as the joined string)
  const { source, bytes: subjectBytes } = subjectParts(subject)
  const idLength = source.length + 1 + fact.id.length
  // the header block factHeaderBlock(id, …) writes, from its fixed parts and the id
  const tail = tailOf(w)
  const hdrLength = HEAD.length + idLength + tail.length
  if (subjectBytes > 0xffff || idLength > 0xffff || hdrLength > 0xffff)
    throw new RangeError(`sidecar record: subject, id or headers of fact ${source}:${fact.id} longer than 65535 bytes`)
  const head = 1 + 2 + subjectBytes + 2 + idLength * 3 + 2 + hdrLength + idLength * 2
  for (let want = head + 256; ; ) {
    let b = chunks.current
    if (b.length - arenaAt < want) {
      b = chunks.next(want)
      arenaAt = 0
    }
    const start = arenaAt
    let o = start
    b[o++] = RECORD_VERSION
    b.writeUInt16LE(subjectBytes, o)
    o += 2
    o += putString(b, o, subject, false)
    b.writeUInt16LE(idLength, o)
    o += 2
    const idAt = o
    o = putMsgId(b, o, source, fact.id)
    b.writeUInt16LE(hdrLength, o)
    o += 2
    // (putBytes: a loop for these few bytes, cheaper than Buffer#copy)
    putBytes(b, o, HEAD, 0, HEAD.length)
    o += HEAD.length
    // the message id again: its bytes just written (idLength of them, one a latin1 unit), not its
    // text a second time (the fact id is mostly a slice of a digest's hex, slow to read a unit at a time)
    putBytes(b, o, b, idAt, idAt + idLength)
    o += idLength
    putBytes(b, o, tail, 0, tail.length)
    o += tail.length
    const end = codec.encodeInto(fact, b, o)
    if (end >= 0) {
      arenaAt = end
      chunks.lent()
      return b.subarray(start, end)
    }
    want = (b.length - start - end) * 2 // (end is minus the bytes missing) a fresh chunk with room to spare
  }
}

/** `<source>:<id>` in latin1 at `at`: where it ends. */
function putMsgId(b: Buffer, at: number, source: string, id: string): number {
  at += putString(b, at, source, true)
  b[at++] = 0x3a // ':'
  return at + putString(b, at, id, true)
}

/**
 * The last subject framed, its source token and its UTF-8 length: a sidecar frames a handful of
 * subjects, over and over. One object, overwritten when the subject changes.
 */
const lastSubject = { subject: '', source: '', bytes: 0 }
function subjectParts(subject: string): { readonly source: string; readonly bytes: number } {
  if (subject !== lastSubject.subject) {
    lastSubject.source = subject.slice(subject.lastIndexOf('.') + 1)
    lastSubject.bytes = Buffer.byteLength(subject, 'utf8')
    lastSubject.subject = subject
  }
  return lastSubject
}

/** `NATS/1.0\r\nNats-Msg-Id: `: a fact's header block up to its message id. */
const HEAD = Buffer.from(HEADER_PREFIX, 'latin1')
/** By schema fingerprint: a fact's header block after its message id. */
const headerTails = new Map<string, Buffer>()
/** The writer of the last fact framed and its tail: a run of facts of one kind looks up nothing. */
let lastWriter: object | undefined
let lastTail: Buffer = Buffer.alloc(0)
function tailOf(w: { readonly name: string; readonly fingerprint: string }): Buffer {
  if (w === lastWriter) return lastTail
  let tail = headerTails.get(w.fingerprint)
  if (tail === undefined) {
    tail = Buffer.from(factHeaderBlock('', w.name, w.fingerprint).slice(HEAD.length), 'latin1')
    headerTails.set(w.fingerprint, tail)
  }
  lastWriter = w
  lastTail = tail
  return tail
}

/** Where a record's parts are in the bytes it is read from (`readRecord`): no copies, no views. */
export interface RecordLayout {
  subject: string
  idAt: number
  idEnd: number
  /** The header block is `[blockAt, blockEnd)`, the Avro bytes `[blockEnd, end)`. */
  blockAt: number
  blockEnd: number
}

/**
 * Reads where the parts of the record `b[at, end)` are into `into` (positions in `b`); false when
 * the bytes are not a record of this version (a bug or foreign data).
 */
export function readRecord(b: Buffer, at: number, end: number, into: RecordLayout): boolean {
  if (end - at < 7 || b[at] !== RECORD_VERSION) return false
  // three fields, each a u16 length and its bytes: subject, id, header block; then the Avro bytes
  const s0 = at + 3
  const s1 = s0 + (b[at + 1] | (b[at + 2] << 8))
  if (s1 + 2 > end) return false
  const i0 = s1 + 2
  const i1 = i0 + (b[s1] | (b[s1 + 1] << 8))
  if (i1 + 2 > end) return false
  const h0 = i1 + 2
  const h1 = h0 + (b[i1] | (b[i1 + 1] << 8))
  if (h1 > end) return false
  into.subject = subjectAt(b, s0, s1)
  into.idAt = i0
  into.idEnd = i1
  into.blockAt = h0
  into.blockEnd = h1
  return true
}

/** The id of a record read with `readRecord` from `bytes`. */
export const recordId = (bytes: Uint8Array, at: RecordLayout): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', at.idAt, at.idEnd)

/** Reads a record back; null when the bytes are not a record of this version (a bug or foreign data). */
export function parseRecord(bytes: Uint8Array): SidecarRecord | null {
  const at: RecordLayout = { subject: '', idAt: 0, idEnd: 0, blockAt: 0, blockEnd: 0 }
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (!readRecord(b, 0, b.length, at)) return null
  return { subject: at.subject, id: recordId(bytes, at), headers: bytes.subarray(at.blockAt, at.blockEnd), data: bytes.subarray(at.blockEnd) }
}

/**
 * The subject in `b[from, to)` (UTF-8): the string of the last subject read when the bytes are
 * the same (a sidecar's records name a handful of subjects, over and over), so the drain does
 * not decode one per record.
 */
function subjectAt(b: Buffer, from: number, to: number): string {
  const last = lastRead
  const n = to - from
  if (last.bytes.length === n) {
    let same = true
    for (let i = 0; i < n; i++) {
      if (last.bytes[i] !== b[from + i]) {
        same = false
        break
      }
    }
    if (same) return last.subject
  }
  const subject = b.toString('utf8', from, to)
  lastRead = { bytes: Uint8Array.prototype.slice.call(b, from, to), subject }
  return subject
}
let lastRead: { bytes: Uint8Array; subject: string } = { bytes: new Uint8Array(0), subject: '' }

/** The header the drain adds: the fact's WAL seq, so a resuming drain can tell exactly what landed (reconcile.ts). */
export const SEQ_HEADER = 'Ben-Sidecar-Seq'

/** The record's header block plus `Ben-Sidecar-Seq: <seq>`, ready for `publish(…, { headers })`. */
export function sendableHeaders(rec: { readonly bytes: Uint8Array; readonly blockAt: number; readonly blockEnd: number }, seq: number): MsgHdrs {
  return preEncodedHeaders(withHeaderLines(rec.bytes.subarray(rec.blockAt, rec.blockEnd), seqHeaderLine(seq)))
}

/** The `Ben-Sidecar-Seq: <seq>` header line (with its CRLF). */
export const seqHeaderLine = (seq: number): string => `${SEQ_HEADER}: ${seq}\r\n`

/** `Ben-Sidecar-Seq: `: the drain's header line up to the seq (`FactPublisher.trySendStored` writes the digits). */
export const SEQ_LINE_HEAD: Uint8Array = Buffer.from(`${SEQ_HEADER}: `, 'latin1')
