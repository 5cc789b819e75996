/**
 * The binary hand-over between the replay's reading thread and its telemetry workers: one
 * buffer per worker per epoch (thousands of messages), transferred, never copied per message.
 *
 * Record: kind u8 | pos u32 | timeNs f64 | nowMs f64 | subject length u16 | header length u32 |
 * data length u32 | subject (utf8) | header block | data. Little-endian.
 */

export const RecordKind = {
  /** A raw fact from FACTS: decoded, scrubbed, detected on the worker. */
  Raw: 1,
  /** A recorded scrubbed fact of a source in scope: compared on the worker. */
  Recorded: 2,
} as const
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind]

const HEAD = 1 + 4 + 8 + 8 + 2 + 4 + 4

/** Appends records to a growing buffer; `take()` hands over the filled part. */
export class BatchWriter {
  private buf: Buffer
  private end = 0
  records = 0

  constructor(private readonly initial = 256 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(initial)
  }

  get bytes(): number {
    return this.end
  }

  add(kind: RecordKind, pos: number, timeNs: number, nowMs: number, subject: string, header: Uint8Array | undefined, data: Uint8Array): void {
    const hl = header?.length ?? 0
    const need = HEAD + subject.length * 3 + hl + data.length
    if (this.end + need > this.buf.length) this.grow(need)
    const b = this.buf
    let o = this.end
    b[o] = kind
    b.writeUInt32LE(pos, o + 1)
    b.writeDoubleLE(timeNs, o + 5)
    b.writeDoubleLE(nowMs, o + 13)
    const sl = subject.length === 0 ? 0 : b.write(subject, o + HEAD, 'utf8')
    b.writeUInt16LE(sl, o + 21)
    b.writeUInt32LE(hl, o + 23)
    b.writeUInt32LE(data.length, o + 27)
    o += HEAD + sl
    if (header) {
      b.set(header, o)
      o += hl
    }
    b.set(data, o)
    this.end = o + data.length
    this.records++
  }

  /** The filled bytes as a transferable ArrayBuffer (exactly sized) and a fresh buffer for the next epoch. */
  take(): { buffer: ArrayBuffer; length: number } {
    const out = { buffer: this.buf.buffer as ArrayBuffer, length: this.end }
    this.buf = Buffer.allocUnsafeSlow(Math.max(this.initial, this.end))
    this.end = 0
    this.records = 0
    return out
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.end + need))
    this.buf.copy(next, 0, 0, this.end)
    this.buf = next
  }
}

/** One record as read back (views into the batch buffer). */
export interface BatchRecord {
  kind: RecordKind
  pos: number
  timeNs: number
  nowMs: number
  subject: string
  header: Uint8Array | undefined
  data: Uint8Array
}

/** Reads the records of a batch in order, reusing one record object. */
export function* readBatch(buffer: ArrayBuffer, length: number): Generator<BatchRecord> {
  const b = Buffer.from(buffer, 0, length)
  const r: BatchRecord = { kind: RecordKind.Raw, pos: 0, timeNs: 0, nowMs: 0, subject: '', header: undefined, data: b }
  let o = 0
  while (o < length) {
    r.kind = b[o] as RecordKind
    r.pos = b.readUInt32LE(o + 1)
    r.timeNs = b.readDoubleLE(o + 5)
    r.nowMs = b.readDoubleLE(o + 13)
    const sl = b.readUInt16LE(o + 21)
    const hl = b.readUInt32LE(o + 23)
    const dl = b.readUInt32LE(o + 27)
    o += HEAD
    r.subject = sl === 0 ? '' : b.toString('utf8', o, o + sl)
    o += sl
    r.header = hl > 0 ? b.subarray(o, o + hl) : undefined
    o += hl
    r.data = b.subarray(o, o + dl)
    o += dl
    yield r
  }
}
