/**
 * Bookkeeping of an incrementally checkpointed keyed state (a log of segments).
 *
 * Segment `seq` holds the records that changed since segment `seq - 1` (and tombstones of the
 * keys removed), plus a few unchanged records copied forward ("sweep"): every live record is
 * rewritten at least once within `MAX_SEGMENTS - 1` segments, so only the last segments are
 * kept, and the oldest ones are dropped as soon as everything they hold has a newer copy. A
 * restart reads the retained segments oldest first; later copies win, tombstones delete.
 *
 * Bounds (for the store and for restart time):
 * - at most `MAX_SEGMENTS` segments are retained (fixed slots in the store, no key per write);
 * - retained bytes stay under 1.5 x the bytes of the live records + `SLACK_BYTES`: when they
 *   grow past it the oldest segment's live records are copied forward and it is dropped;
 * - each segment copies forward at most ~1/`SWEEP_DIVISOR` of the live records beyond the
 *   ones the bounds require, the oldest first (a steady sweep, no bursts).
 *
 * A segment's cost therefore follows what changed, plus that steady 1/48 of the state.
 */
export const MAX_SEGMENTS = 64
export const SWEEP_DIVISOR = 48
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
}

/** Writes one record (or a tombstone) into the segment being built; returns its size in bytes. */
export interface SegmentSink {
  record(table: number, key: string): number
  tombstone(table: number, key: string): number
}

export interface SegmentPlan {
  /** Oldest segment still needed once this one is stored. */
  readonly keepFrom: number
  readonly records: number
  readonly swept: number
  readonly tombstones: number
}

export class ChangeLog {
  private readonly dirty: Set<string>[] = []
  private readonly removed: Set<string>[] = []
  /** Per table, key → latest stored copy; iteration order is oldest copy first. */
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

  /**
   * Builds segment `seq`: tombstones, then every changed record, then the sweep. `headerBytes`
   * are the bytes the caller wrote before (they count towards the segment).
   */
  seal(seq: number, sink: SegmentSink, headerBytes = 0): SegmentPlan {
    const seg: Seg = { bytes: headerBytes, liveBytes: 0, live: 0 }
    this.segs.set(seq, seg)
    this.retained += headerBytes
    let tombstones = 0
    for (let t = 0; t < this.tables; t++) {
      for (const key of this.removed[t]) {
        this.drop(t, key)
        const b = sink.tombstone(t, key)
        seg.bytes += b
        this.retained += b
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
    // the sweep: the oldest copies, a steady share, plus whatever the bounds require
    let budget = Math.ceil(this.storedRecords / SWEEP_DIVISOR)
    const mustFrom = seq - (MAX_SEGMENTS - 2)
    let swept = 0
    for (;;) {
      const oldest = this.oldest()
      if (!oldest || oldest.copy.g >= seq) break
      const needed = oldest.copy.g < mustFrom || this.retained > 1.5 * this.liveBytes + SLACK_BYTES
      if (!needed && budget <= 0) break
      if (!needed) budget--
      this.write(oldest.table, oldest.key, seq, seg, sink)
      swept++
      this.release()
    }
    this.release()
    const first = this.oldest()
    return { keepFrom: first ? first.copy.g : seq, records: records + swept, swept, tombstones }
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

  /** Restore: a tombstone (or the header) read from segment `seq`. */
  restoredTombstone(table: number, key: string, seq: number, bytes: number): void {
    this.restoredBytes(seq, bytes)
    this.detach(table, key)
  }

  restoredBytes(seq: number, bytes: number): void {
    this.seg(seq).bytes += bytes
    this.retained += bytes
  }

  /** After a restore: forget segments nothing refers to any more. */
  restoredAll(): void {
    this.release()
  }

  private seg(seq: number): Seg {
    let s = this.segs.get(seq)
    if (!s) this.segs.set(seq, (s = { bytes: 0, liveBytes: 0, live: 0 }))
    return s
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

  private drop(t: number, key: string): void {
    this.detach(t, key)
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

  /** The oldest stored copy over all tables. */
  private oldest(): { table: number; key: string; copy: Copy } | undefined {
    let best: { table: number; key: string; copy: Copy } | undefined
    for (let t = 0; t < this.tables; t++) {
      const first = this.stored[t].entries().next()
      if (first.done) continue
      const [key, copy] = first.value
      if (!best || copy.g < best.copy.g) best = { table: t, key, copy }
    }
    return best
  }

  /** Drops the segments older than the oldest live copy. */
  private release(): void {
    const first = this.oldest()
    const from = first ? first.copy.g : Infinity
    for (const [seq, s] of this.segs) {
      if (seq >= from) continue
      // a segment newer than every live copy (the one being written) stays
      if (first === undefined && seq === this.newest()) continue
      this.retained -= s.bytes
      this.segs.delete(seq)
    }
  }

  private newest(): number {
    let n = -Infinity
    for (const k of this.segs.keys()) if (k > n) n = k
    return n
  }
}
