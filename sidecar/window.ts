import type { ReadyMessage } from '../streams/index.js'
import { readRecord, recordId, type RecordLayout } from './record.js'

export const EntryState = { Unsent: 0, Sent: 1, Done: 2 } as const
export type EntryState = (typeof EntryState)[keyof typeof EntryState]

/**
 * One WAL record in the drain's window, with what became of it. The record is read in place
 * (`readRecord`): the entry keeps the WAL's bytes and where its parts are, not a string or a view
 * per part, because it lives until its PubAck, through a collection or two. Nor a view of the
 * record itself: `bytes` is the whole buffer the WAL wrote it in (one Buffer for the records read
 * from one buffer, see `wholeBuffer`), the record `bytes[at, end)`.
 */
export class Entry implements ReadyMessage, RecordLayout {
  subject = ''
  idAt = 0
  idEnd = 0
  blockAt = 0
  blockEnd = 0
  /** Not a sidecar record: skipped (done at once), counted. */
  readonly undecodable: boolean
  state: EntryState
  /** Generation of the latest send (a resync starts a new one). */
  gen = 0
  /** The latest attempt was refused outright (not a timeout): certainly not stored. */
  refused = false

  /** The record `bytes[at, end)` (`entryOf` makes one of a record's own bytes). */
  constructor(
    readonly seq: number,
    readonly appendedAt: number,
    readonly bytes: Buffer,
    readonly at: number,
    readonly end: number,
  ) {
    this.undecodable = !readRecord(bytes, at, end, this)
    this.state = this.undecodable ? EntryState.Done : EntryState.Unsent
  }

  /** The Avro bytes are `bytes[dataAt, end)`. */
  get dataAt(): number {
    return this.blockEnd
  }

  /** The fact's `Nats-Msg-Id` (`<source>:<fact id>`); '' for an undecodable record. */
  get id(): string {
    return this.undecodable ? '' : recordId(this.bytes, this)
  }
}

/** The entry of a record given as its own bytes (a view into the memory the WAL wrote it in). */
export function entryOf(seq: number, appendedAt: number, data: Uint8Array): Entry {
  return new Entry(seq, appendedAt, wholeBuffer(data), data.byteOffset, data.byteOffset + data.byteLength)
}

/** A Buffer over the whole memory of `data`: the same one as last time when `data` lies in the same memory (the WAL's records of one write). */
function wholeBuffer(data: Uint8Array): Buffer {
  if (data.buffer !== lastMemory) {
    lastMemory = data.buffer
    lastWhole = Buffer.from(data.buffer)
  }
  return lastWhole
}
let lastMemory: ArrayBufferLike = new ArrayBuffer(0)
let lastWhole: Buffer = Buffer.alloc(0)

/**
 * The drain's window over the WAL: the records read but not yet all acknowledged, oldest
 * first. `floor` is the highest seq at and below which every record is done (what the WAL may
 * be acked up to); `cursor` is the next record to (re)send.
 */
export class DrainWindow {
  private readonly entries: Entry[] = []
  private head = 0
  private cursor = 0
  constructor(public floor: number) {}

  /** Records held that are not done or are after the first one not done. */
  get size(): number {
    return this.entries.length - this.head
  }

  push(e: Entry): void {
    this.entries.push(e)
  }

  /** The oldest record not done. */
  firstPending(): Entry | undefined {
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i].state !== EntryState.Done) return this.entries[i]
    return undefined
  }

  /** The next record to send, in order (the cursor moves past it). */
  nextUnsent(): Entry | undefined {
    const entries = this.entries
    while (this.cursor < entries.length && entries[this.cursor].state !== EntryState.Unsent) this.cursor++
    return this.cursor < entries.length ? entries[this.cursor] : undefined
  }

  hasUnsent(): boolean {
    return this.nextUnsent() !== undefined
  }

  /** Everything sent and not done goes back to unsent, and sending starts again at the oldest. */
  rewind(): void {
    for (let i = this.head; i < this.entries.length; i++) if (this.entries[i].state === EntryState.Sent) this.entries[i].state = EntryState.Unsent
    this.cursor = this.head
  }

  /** The held records, oldest first (a copy). */
  pending(): Entry[] {
    return this.entries.slice(this.head)
  }

  /** Moves the floor past the done records at the front; returns the floor. */
  advance(): number {
    const entries = this.entries
    while (this.head < entries.length && entries[this.head].state === EntryState.Done) this.floor = entries[this.head++].seq
    if (this.cursor < this.head) this.cursor = this.head
    if (this.head > 4096 && this.head * 2 > entries.length) {
      entries.splice(0, this.head)
      this.cursor -= this.head
      this.head = 0
    }
    return this.floor
  }

  /** The oldest record not done, if it is held. */
  oldest(): Entry | undefined {
    const e = this.entries[this.head]
    return e && e.state !== EntryState.Done ? e : undefined
  }
}
