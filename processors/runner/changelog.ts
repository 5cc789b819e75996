/**
 * Bookkeeping of an incrementally checkpointed keyed state (a log of segments).
 *
 * Segment `seq` holds the records that changed since segment `seq - 1` (and tombstones of the
 * keys removed). A restart reads the retained segments oldest first; later copies win,
 * tombstones delete. Nothing unchanged is written unless a bound requires it, so a segment's
 * cost follows what changed:
 *
 * - at most `MAX_SEGMENTS` segments are retained (fixed slots in the store, no key per write):
 *   past it, the segment with the fewest live bytes has its live records copied forward and is
 *   dropped (under light churn: a small recent segment, never the big base one);
 * - retained bytes stay under 1.5 x the bytes of the live records + `SLACK_BYTES`: past it, the
 *   segment with the most garbage per live byte is compacted the same way.
 *
 * Any retained segment may be dropped, not only the oldest (`SegmentPlan.keep` lists the ones a
 * restart reads). A dropped segment's tombstones are copied forward while an older retained
 * segment may still hold a copy of the key they delete.
 */
export const MAX_SEGMENTS = 64
export const SLACK_BYTES = 4 * 1024 * 1024

interface Copy {
  /** Segment holding the latest stored copy. */
  g: number
  /** Its size in bytes. */
  b: number
}

interface Seg {
  bytes: number
  /** Bytes and count of the latest copies it holds. */
  liveBytes: number
  live: number
  /** Tombstones it holds: table → keys. */
  tombs?: Array<Set<string>>
}

/** Writes one record (or a tombstone) into the segment being built; returns its size in bytes. */
export interface SegmentSink {
  record(table: number, key: string): number
  tombstone(table: number, key: string): number
}

export interface SegmentPlan {
  /** Oldest segment still needed once this one is stored. */
  readonly keepFrom: number
  /** Every segment a restart reads once this one is stored (this one included), ascending. */
  readonly keep: readonly number[]
  /** Records written (changed ones and those copied forward by a compaction). */
  readonly records: number
  /** Records copied forward unchanged (compaction). */
  readonly swept: number
  readonly tombstones: number
}

export class ChangeLog {
  private readonly dirty: Set<string>[] = []
  private readonly removed: Set<string>[] = []
  /** Per table, key → latest stored copy. */
  private readonly stored: Map<string, Copy>[] = []
  private readonly segs = new Map<number, Seg>()
  private retained = 0
  private liveBytes = 0

  constructor(readonly tables: number) {
    for (let t = 0; t < tables; t++) {
      this.dirty.push(new Set())
      this.removed.push(new Set())
      this.stored.push(new Map())
    }
  }

  /** The record `key` changed (or was added). */
  touch(table: number, key: string): void {
    this.dirty[table].add(key)
  }

  /** The record `key` was removed. */
  remove(table: number, key: string): void {
    this.dirty[table].delete(key)
    if (this.stored[table].has(key)) this.removed[table].add(key)
  }

  /** Records changed since the last segment. */
  get pending(): number {
    let n = 0
    for (const d of this.dirty) n += d.size
    for (const r of this.removed) n += r.size
    return n
  }

  /** Live records with a stored copy, and the bytes of those copies. */
  get storedRecords(): number {
    let n = 0
    for (const s of this.stored) n += s.size
    return n
  }

  get storedBytes(): number {
    return this.liveBytes
  }

  /** Bytes of the retained segments. */
  get retainedBytes(): number {
    return this.retained
  }

  /** Number of retained segments. */
  get segments(): number {
    return this.segs.size
  }

  /**
   * Builds segment `seq`: tombstones, then every changed record, then whatever the bounds
   * require copied forward. `headerBytes` are the bytes the caller wrote before (they count
   * towards the segment).
   */
  seal(seq: number, sink: SegmentSink, headerBytes = 0): SegmentPlan {
    const seg: Seg = { bytes: headerBytes, liveBytes: 0, live: 0 }
    this.segs.set(seq, seg)
    this.retained += headerBytes
    let tombstones = 0
    for (let t = 0; t < this.tables; t++) {
      for (const key of this.removed[t]) {
        this.detach(t, key)
        this.writeTombstone(t, key, seg, sink)
        tombstones++
      }
      this.removed[t].clear()
    }
    let records = 0
    for (let t = 0; t < this.tables; t++) {
      for (const key of this.dirty[t]) {
        this.write(t, key, seq, seg, sink)
        records++
      }
      this.dirty[t].clear()
    }
    // segments nothing refers to (every copy superseded) go first: they cost nothing to drop
    let swept = 0
    for (const [g, s] of [...this.segs]) if (g !== seq && s.live === 0) tombstones += this.dropSegment(g, seg, sink)
    // then the bounds, by compaction: copy a segment's live records forward, drop it
    for (;;) {
      const tooMany = this.segs.size > MAX_SEGMENTS
      const tooBig = this.retained > 1.5 * this.liveBytes + SLACK_BYTES
      if (!tooMany && !tooBig) break
      const victim = this.victim(seq, tooMany)
      if (victim === undefined) break
      swept += this.copyForward(victim, seq, seg, sink)
      tombstones += this.dropSegment(victim, seg, sink)
    }
    const keep = [...this.segs.keys()].sort((a, b) => a - b)
    return { keepFrom: keep[0] ?? seq, keep, records: records + swept, swept, tombstones }
  }

  /** Restore: a record read from segment `seq` (later copies replace earlier ones). */
  restored(table: number, key: string, seq: number, bytes: number): void {
    const seg = this.seg(seq)
    this.detach(table, key)
    this.stored[table].set(key, { g: seq, b: bytes })
    seg.bytes += bytes
    seg.liveBytes += bytes
    seg.live++
    this.retained += bytes
    this.liveBytes += bytes
  }

  /** Restore: a tombstone read from segment `seq`. */
  restoredTombstone(table: number, key: string, seq: number, bytes: number): void {
    this.restoredBytes(seq, bytes)
    this.detach(table, key)
    this.tombOf(this.seg(seq), table).add(key)
  }

  /** Restore: other bytes (the header, tables) of segment `seq`. */
  restoredBytes(seq: number, bytes: number): void {
    this.seg(seq).bytes += bytes
    this.retained += bytes
  }

  /** After a restore (nothing to do: every retained segment was read and stays retained). */
  restoredAll(): void {}

  private seg(seq: number): Seg {
    let s = this.segs.get(seq)
    if (!s) this.segs.set(seq, (s = { bytes: 0, liveBytes: 0, live: 0 }))
    return s
  }

  private tombOf(seg: Seg, t: number): Set<string> {
    seg.tombs ??= []
    return (seg.tombs[t] ??= new Set())
  }

  private write(t: number, key: string, seq: number, seg: Seg, sink: SegmentSink): void {
    const b = sink.record(t, key)
    this.detach(t, key)
    this.stored[t].set(key, { g: seq, b })
    seg.bytes += b
    seg.liveBytes += b
    seg.live++
    this.retained += b
    this.liveBytes += b
  }

  private writeTombstone(t: number, key: string, seg: Seg, sink: SegmentSink): void {
    const b = sink.tombstone(t, key)
    seg.bytes += b
    this.retained += b
    this.tombOf(seg, t).add(key)
  }

  /** Forgets the stored copy of `key` (it has a newer one, or was removed). */
  private detach(t: number, key: string): void {
    const c = this.stored[t].get(key)
    if (!c) return
    this.stored[t].delete(key)
    const s = this.segs.get(c.g)
    if (s) {
      s.live--
      s.liveBytes -= c.b
    }
    this.liveBytes -= c.b
  }

  /** The segment to compact: the fewest live bytes (too many segments), or the most garbage per live byte (too many bytes). */
  private victim(current: number, byCount: boolean): number | undefined {
    let best: number | undefined
    let score = Infinity
    for (const [g, s] of this.segs) {
      if (g === current) continue
      const x = byCount ? s.liveBytes : (s.liveBytes + 1) / (s.bytes - s.liveBytes + 1)
      if (x < score || (x === score && best !== undefined && g < best)) {
        score = x
        best = g
      }
    }
    return best
  }

  /** Copies the live records of segment `g` into the segment being written. */
  private copyForward(g: number, seq: number, seg: Seg, sink: SegmentSink): number {
    const s = this.segs.get(g)
    if (!s || s.live === 0) return 0
    const keys: Array<[number, string]> = []
    for (let t = 0; t < this.tables; t++) for (const [key, c] of this.stored[t]) if (c.g === g) keys.push([t, key])
    for (const [t, key] of keys) this.write(t, key, seq, seg, sink)
    return keys.length
  }

  /**
   * Drops segment `g` (no live copy left in it). Its tombstones are copied forward when an older
   * retained segment may still hold a copy of their key (and the key has no newer live copy).
   */
  private dropSegment(g: number, seg: Seg, sink: SegmentSink): number {
    const s = this.segs.get(g)
    if (!s) return 0
    this.segs.delete(g)
    this.retained -= s.bytes
    let n = 0
    if (s.tombs) {
      let older = false
      for (const k of this.segs.keys()) if (k < g) older = true
      if (older)
        for (let t = 0; t < s.tombs.length; t++)
          for (const key of s.tombs[t] ?? []) {
            if (this.stored[t].has(key)) continue
            this.writeTombstone(t, key, seg, sink)
            n++
          }
    }
    return n
  }
}
