/**
 * Memory that pieces are cut from, one chunk at a time, and cut from again once every piece cut
 * from it came back: the sidecar's intake records (sidecar/record.ts), the WAL's writes
 * (sidecar/wal/wal.ts) and the publishers' frames (streams/frames.ts). Memory just allocated costs
 * a page fault per 4 KiB page on its first write, 11-17 µs a page on this project's VMs (round 17's
 * notes), more than writing the records into it; memory reused does not.
 *
 * The ledger counts the pieces out of each chunk; where the next piece goes in the current chunk is
 * the caller's (its own cursor, reset when `next` hands it another chunk). A chunk is cut from again
 * only when it was retired (`next`), every piece cut from it came back (`back`) and none came back
 * of unknown fate (its bytes may still be read: the chunk is then left to the garbage collector,
 * as is one whose pieces never come back). A piece is found by its memory (its ArrayBuffer): every
 * chunk has an ArrayBuffer of its own (`Buffer.allocUnsafeSlow`), never Buffer's shared pool.
 */
interface Chunk {
  readonly buf: Buffer
  /** Pieces cut from it and not back yet. */
  out: number
  /** No more pieces are cut from it. */
  retired: boolean
  /** A piece of it came back of unknown fate, or will (`spoil`): never cut from again. */
  spoiled: boolean
}

export class ChunkLedger {
  private chunk: Chunk
  /** The chunk of the last piece given back: pieces come back in runs from one chunk or two. */
  private last: Chunk
  /** Retired chunks with pieces out, by their memory (weakly: pieces never given back leave them to the garbage collector). */
  private readonly older = new WeakMap<ArrayBufferLike, Chunk>()
  /** Chunks all of whose pieces came back, to be cut from again. */
  private readonly free: Chunk[] = []

  constructor(
    /** A chunk's size; bigger ones are made for bigger pieces (`next`), and never reused. */
    readonly bytes: number,
    /** Free chunks kept at most. */
    private readonly keepFree = 4,
  ) {
    this.chunk = this.last = chunkOf(bytes)
  }

  /** The chunk pieces are cut from now. */
  get current(): Buffer {
    return this.chunk.buf
  }

  /** A piece was cut from the current chunk. */
  lent(): void {
    this.chunk.out++
  }

  /** A piece of the current chunk is of unknown fate already (written where no one reports on it): the chunk is never reused. */
  spoil(): void {
    this.chunk.spoiled = true
  }

  /**
   * Retires the current chunk and makes another current, with room for `want` bytes: a free one
   * when there is one and `want` fits, else new memory.
   */
  next(want: number): Buffer {
    const c = this.chunk
    c.retired = true
    if (c.out === 0) this.keep(c)
    else if (!c.spoiled) this.older.set(c.buf.buffer, c)
    const reused = want <= this.bytes ? this.free.pop() : undefined
    if (reused === undefined) this.chunk = chunkOf(Math.max(this.bytes, want))
    else {
      reused.retired = false
      this.chunk = reused
    }
    return this.chunk.buf
  }

  /**
   * A piece cut from `memory` (the ArrayBuffer of the chunk it was cut from) came back: nothing
   * will read it again (`ok`), or its fate is unknown (its bytes may still be read or sent). Memory
   * this ledger did not lend is ignored. Each piece comes back once.
   */
  back(memory: ArrayBufferLike, ok: boolean): void {
    let c = this.last
    if (c.buf.buffer !== memory) {
      if (this.chunk.buf.buffer === memory) c = this.chunk
      else {
        const found = this.older.get(memory)
        if (found === undefined) return
        c = found
      }
      this.last = c
    }
    if (!ok) c.spoiled = true
    c.out--
    if (c.retired && (c.out === 0 || c.spoiled)) {
      this.older.delete(memory)
      if (c.out === 0) this.keep(c)
    }
  }

  private keep(c: Chunk): void {
    if (!c.spoiled && c.buf.length === this.bytes && this.free.length < this.keepFree) this.free.push(c)
  }
}

const chunkOf = (bytes: number): Chunk => ({ buf: Buffer.allocUnsafeSlow(bytes), out: 0, retired: false, spoiled: false })
