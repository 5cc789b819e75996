/**
 * Little-endian binary framing for checkpoints. A checkpoint segment is a stream of frames
 * (`u32 length` + bytes) cut into fixed-size chunks (one KV value each); a frame may span
 * chunks. Writers and readers never hold more than the frames being written or one chunk plus
 * the frame it is completing.
 */

const utf8 = new TextEncoder()
const utf8d = new TextDecoder('utf-8', { fatal: true })

/** Writes frames straight into chunks of `chunkSize` bytes. */
export class ChunkWriter {
  private readonly chunks: Uint8Array[] = []
  private buf: Uint8Array
  private view: DataView
  private pos = 0
  /** Where the current frame's length sits (chunk index, offset) and where its bytes began. */
  private frameChunk = -1
  private frameAt = 0
  private frameStart = 0
  private total = 0

  constructor(private readonly chunkSize: number = 512 * 1024) {
    this.buf = new Uint8Array(chunkSize)
    this.view = new DataView(this.buf.buffer)
  }

  /** Bytes written so far (all frames, with their length prefixes). */
  get bytes(): number {
    return this.total + this.pos
  }

  beginFrame(): void {
    this.ensure(4)
    this.frameChunk = this.chunks.length
    this.frameAt = this.pos
    this.pos += 4
    this.frameStart = this.bytes
  }

  /** Ends the frame begun last; returns its length in bytes (without the prefix). */
  endFrame(): number {
    const len = this.bytes - this.frameStart
    const target = this.frameChunk === this.chunks.length ? this.buf : this.chunks[this.frameChunk]
    new DataView(target.buffer, target.byteOffset, target.byteLength).setUint32(this.frameAt, len, true)
    this.frameChunk = -1
    return len
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.pos, v, true)
    this.pos += 4
  }

  f64(v: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, v, true)
    this.pos += 8
  }

  i32(v: number): void {
    this.ensure(4)
    this.view.setInt32(this.pos, v, true)
    this.pos += 4
  }

  str(s: string): void {
    const b = utf8.encode(s)
    this.u32(b.length)
    this.raw(b)
  }

  raw(b: Uint8Array): void {
    let off = 0
    while (off < b.length) {
      if (this.pos === this.chunkSize) this.next()
      const n = Math.min(b.length - off, this.chunkSize - this.pos)
      this.buf.set(b.subarray(off, off + n), this.pos)
      this.pos += n
      off += n
    }
  }

  /** The chunks written (the last one trimmed). The writer must not be used afterwards. */
  finish(): Uint8Array[] {
    if (this.pos > 0 || this.chunks.length === 0) this.chunks.push(this.buf.subarray(0, this.pos))
    return this.chunks
  }

  /** Room for `n` contiguous bytes: a number never straddles two chunks (the stream stays contiguous, a chunk may end short). */
  private ensure(n: number): void {
    if (this.pos + n > this.chunkSize) this.next()
  }

  private next(): void {
    this.total += this.pos
    this.chunks.push(this.pos === this.chunkSize ? this.buf : this.buf.subarray(0, this.pos))
    this.buf = new Uint8Array(this.chunkSize)
    this.view = new DataView(this.buf.buffer)
    this.pos = 0
  }
}

/**
 * Reassembles frames from chunks fed in order. A frame that lies within one chunk is a view
 * (no copy); one that spans chunks is copied once.
 */
export class FrameReader {
  private carry: Uint8Array | undefined
  private need = -1
  private have = 0
  private lenBuf = new Uint8Array(4)
  private lenHave = 0

  constructor(private readonly onFrame: (frame: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    let off = 0
    while (off < chunk.length) {
      if (this.need < 0) {
        // reading a length prefix (it may itself span chunks)
        if (this.lenHave === 0 && chunk.length - off >= 4) {
          this.need = readU32(chunk, off)
          off += 4
        } else {
          this.lenBuf[this.lenHave++] = chunk[off++]
          if (this.lenHave < 4) continue
          this.need = readU32(this.lenBuf, 0)
          this.lenHave = 0
        }
        this.have = 0
        this.carry = undefined
        if (this.need === 0) {
          this.need = -1
          this.onFrame(new Uint8Array(0))
        }
        continue
      }
      const left = this.need - this.have
      if (!this.carry && chunk.length - off >= left) {
        this.onFrame(chunk.subarray(off, off + left))
        off += left
        this.need = -1
        continue
      }
      this.carry ??= new Uint8Array(this.need)
      const n = Math.min(left, chunk.length - off)
      this.carry.set(chunk.subarray(off, off + n), this.have)
      this.have += n
      off += n
      if (this.have === this.need) {
        const f = this.carry
        this.carry = undefined
        this.need = -1
        this.onFrame(f)
      }
    }
  }

  /** True when no frame is half read. */
  get complete(): boolean {
    return this.need < 0 && this.lenHave === 0
  }
}

function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) + b[off + 3] * 0x1000000
}

/** Reads the fields of one frame. Throws a RangeError when the frame is shorter than its fields. */
export class ByteReader {
  private readonly view: DataView
  pos = 0

  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  }

  get done(): boolean {
    return this.pos >= this.b.length
  }

  u8(): number {
    return this.view.getUint8(this.pos++)
  }

  u32(): number {
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  i32(): number {
    const v = this.view.getInt32(this.pos, true)
    this.pos += 4
    return v
  }

  f64(): number {
    const v = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return v
  }

  /** Moves past `n` bytes (a RangeError when they run past the end of the frame). */
  skip(n: number): void {
    if (this.pos + n > this.b.length) throw new RangeError('value runs past the end of its frame')
    this.pos += n
  }

  /** The bytes from the current position to the end of the frame (a view, no copy). */
  rest(): Uint8Array {
    return this.b.subarray(this.pos)
  }

  str(): string {
    const n = this.u32()
    if (this.pos + n > this.b.length) throw new RangeError('string runs past the end of its frame')
    const s = utf8d.decode(this.b.subarray(this.pos, this.pos + n))
    this.pos += n
    return s
  }
}
