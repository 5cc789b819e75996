import type { KV } from '../../streams/index.js'
import { createHash } from 'node:crypto'
import { kvLatest, putAgainOnReconnect, type KvLatest } from '../../streams/index.js'
import { MAX_SEGMENTS } from './changelog.js'

/** What a stage saves: its state and, per input, the last stream sequence folded into it. */
export interface Checkpoint {
  readonly stage: string
  readonly version: string
  /** Stream sequence of the last input applied, per input lane. */
  readonly positions: Readonly<Record<string, number>>
  readonly state: unknown
  /** Inputs applied since the stage first started (for `ben streams`-like reporting). */
  readonly applied: number
  /**
   * Sequence in the stage's output stream at or above every output acknowledged when the
   * checkpoint was taken: outputs of later inputs are stored after it (absent: not tracked).
   */
  readonly outputSeq?: number
}

/** Everything of a checkpoint but the state. */
export type CheckpointHead = Omit<Checkpoint, 'state'>

/** A stored checkpoint as read back: its head, and its state as JSON or as a log of segments. */
export interface StoredCheckpoint extends CheckpointHead {
  /** Number of the last segment written (the next one is `seq + 1`). */
  readonly seq: number
  readonly kind: SegmentKind
  /** `json` only: the state value. */
  readonly state?: unknown
  /** `log` only: streams the retained segments' chunks, oldest segment first. */
  replay(onChunk: (seq: number, chunk: Uint8Array) => void): Promise<void>
}

/** A new segment: `json` replaces the state; `log` adds to the retained segments listed in `keep` (absent: those from `keepFrom` on). */
export interface Segment {
  readonly seq: number
  readonly kind: SegmentKind
  readonly chunks: readonly Uint8Array[]
  readonly keepFrom: number
  readonly keep?: readonly number[]
}

export type SegmentKind = 'json' | 'log'

interface SegRef {
  readonly seq: number
  readonly slot: number
  readonly chunks: number
  readonly bytes: number
  readonly sha256: string
}

/** The `meta` value (format 2): the head, the retained segments in order, and the chunk count written per slot. */
interface Meta extends CheckpointHead {
  readonly format: 2
  readonly kind: SegmentKind
  readonly segments: readonly SegRef[]
  readonly slots: Readonly<Record<string, number>>
}

/** Format 1 (before incremental checkpoints): one JSON document in chunks under a new generation each time. */
interface LegacyMeta {
  readonly generation: number
  readonly chunks: number
  readonly sha256: string
}

const CHUNK = 512 * 1024
/** Slots a segment can be written to: one more than the segments kept, so a free one always exists. */
const SLOTS = MAX_SEGMENTS + 1
/** Chunk reads in flight while a checkpoint is loaded. */
const PREFETCH = 8

/** How a checkpoint's writes wait out a slow or stalled server. */
export interface CheckpointWriteOptions {
  /** Chunk writes in flight at once (each waits for its JetStream ack): bounded, so a huge segment never queues all its bytes at once. */
  readonly inflight?: number
  /** Timeout of one write's first attempt (ms); each retry of that write doubles it, up to 30 s. */
  readonly putTimeoutMs?: number
  /** A write that has not been acknowledged within this long in all (ms, from its first attempt) fails the checkpoint. */
  readonly deadlineMs?: number
  /** Called when a write timed out and is tried again (the key, the attempt that timed out, its timeout). */
  readonly onRetry?: (key: string, attempt: number, timeoutMs: number) => void
}

const WRITE_DEFAULTS = { inflight: 4, putTimeoutMs: 5_000, deadlineMs: 180_000 }
const MAX_PUT_TIMEOUT_MS = 30_000

const isTimeout = (err: unknown): boolean => err instanceof Error && (err.name === 'TimeoutError' || /timeout/i.test(err.message))

/** Splits bytes into KV-sized chunks. */
export function chunked(body: Uint8Array, size = CHUNK): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < body.length; i += size) out.push(body.subarray(i, i + size))
  return out.length ? out : [body]
}

/**
 * Checkpoints in KV `ben-checkpoints` under a fixed set of keys: `<key>.meta` and
 * `<key>.s<slot>.<chunk>` for at most `MAX_SEGMENTS + 1` slots. A segment is written into a slot
 * the committed `meta` does not refer to, then `meta` is written naming it: a crash mid-write
 * leaves the previous checkpoint intact, and no key is ever created per write (the bucket keeps
 * one revision per key and never needs a delete marker). Stale chunks of a slot that was
 * rewritten with fewer chunks are overwritten empty.
 *
 * A `json` stage writes its whole state as one segment each time; a `log` stage (a stage with a
 * `journal`) writes what changed, and `meta` lists the segments a restart must read.
 */
export class CheckpointStore {
  /** Last meta this store wrote or read (saves are sequential). */
  private last: Meta | undefined
  private legacy: LegacyMeta | undefined

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    /**
     * Read when `key` holds no checkpoint yet: a partition's first start resumes from the
     * checkpoint of the whole stage (its state and positions; other partitions' sources in the
     * state are never touched), so splitting a running stage neither loses nor re-derives.
     * Its segments are copied under `key` first, so the partition's later segments build on them.
     */
    private readonly fallbackKey?: string,
    private readonly writes: CheckpointWriteOptions = {},
  ) {}

  /** Writes retried after a timeout so far (a stalled or saturated server: each is also passed to `onRetry`). */
  retries = 0

  /**
   * One KV write that survives a server slower than a request timeout: a write whose ack does not
   * come in time is sent again (the same value under the same key: idempotent, the bucket keeps one
   * revision per key), each attempt waiting twice as long, until `deadlineMs` has passed. A huge
   * first checkpoint (hundreds of MB) behind a busy server acknowledges late rather than never.
   * A write lost with its connection (nats-server killed or restarted) is sent again as soon as
   * the connection is back, not after its timeout (`putAgainOnReconnect`).
   */
  private async put(key: string, value: Uint8Array | string): Promise<void> {
    const o = { ...WRITE_DEFAULTS, ...this.writes }
    const t0 = Date.now()
    for (let attempt = 1, timeout = o.putTimeoutMs; ; attempt++, timeout = Math.min(MAX_PUT_TIMEOUT_MS, timeout * 2)) {
      try {
        await putAgainOnReconnect(this.kv, key, value, { timeout })
        return
      } catch (err) {
        if (!isTimeout(err) || Date.now() - t0 >= o.deadlineMs) throw err
        this.retries++
        this.writes.onRetry?.(key, attempt, timeout)
      }
    }
  }

  /** Writes every chunk of a segment under `<key>.s<slot>.<i>`, a few in flight at once; resolves once all are acknowledged. */
  private async putChunks(slot: number, chunks: readonly Uint8Array[]): Promise<void> {
    const width = Math.max(1, this.writes.inflight ?? WRITE_DEFAULTS.inflight)
    let next = 0
    let failed: unknown
    const lane = async (): Promise<void> => {
      while (failed === undefined && next < chunks.length) {
        const i = next++
        try {
          await this.put(`${this.key}.s${slot}.${i}`, chunks[i])
        } catch (err) {
          failed ??= err
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(width, chunks.length) }, lane))
    if (failed !== undefined) throw failed
  }

  /** The stored checkpoint, or undefined. Throws when a chunk is missing or corrupt. */
  async open(): Promise<StoredCheckpoint | undefined> {
    const own = await this.openOwn()
    if (own || !this.fallbackKey) return own
    const from = new CheckpointStore(this.kv, this.fallbackKey)
    const meta = await from.readMeta()
    if (!meta) return from.open() // none, or a format-1 checkpoint: one JSON state, nothing to build on
    for (const seg of meta.segments) {
      for (let i = 0; i < seg.chunks; i++) {
        const e = await this.kv.get(`${this.fallbackKey}.s${seg.slot}.${i}`)
        if (!e || e.operation !== 'PUT') throw new Error(`checkpoint ${this.fallbackKey} segment ${seg.seq} is missing chunk ${i}`)
        await this.put(`${this.key}.s${seg.slot}.${i}`, e.value)
      }
    }
    await this.put(`${this.key}.meta`, JSON.stringify(meta))
    return this.openOwn()
  }

  private async openOwn(): Promise<StoredCheckpoint | undefined> {
    const m = await this.kv.get(`${this.key}.meta`)
    if (!m || m.operation !== 'PUT') return undefined
    const raw = JSON.parse(m.string()) as Meta | LegacyMeta
    if ('generation' in raw) return this.openLegacy(raw)
    this.last = raw
    const { stage, version, positions, applied, kind, outputSeq } = raw
    const seq = raw.segments.length ? raw.segments[raw.segments.length - 1].seq : 0
    const base = {
      stage,
      version,
      positions,
      applied,
      kind,
      seq,
      ...(outputSeq !== undefined ? { outputSeq } : {}),
      replay: (on: (seq: number, chunk: Uint8Array) => void) => this.replay(raw, on),
    }
    if (kind === 'log') return base
    const parts: Uint8Array[] = []
    await this.replay(raw, (_s, c) => void parts.push(c))
    // A `json` segment is the whole checkpoint document (head and state): its state is the stage's.
    return { ...base, state: (JSON.parse(Buffer.concat(parts).toString('utf8')) as Checkpoint).state }
  }

  /** The checkpoint of a `json` stage (its state parsed), or undefined. */
  async load(): Promise<Checkpoint | undefined> {
    const cp = await this.open()
    if (!cp) return undefined
    if (cp.kind !== 'json') throw new Error(`checkpoint ${this.key} is a log of segments: read it with open()`)
    return {
      stage: cp.stage,
      version: cp.version,
      positions: cp.positions,
      state: cp.state,
      applied: cp.applied,
      ...(cp.outputSeq !== undefined ? { outputSeq: cp.outputSeq } : {}),
    }
  }

  /** Saves a whole checkpoint as one `json` segment (or its JSON text, serialised when the snapshot was taken). */
  async save(cp: Checkpoint | string): Promise<void> {
    const c = typeof cp === 'string' ? (JSON.parse(cp) as Checkpoint) : cp
    const body = Buffer.from(typeof cp === 'string' ? cp : JSON.stringify(cp), 'utf8')
    const prev = this.last ?? (await this.readMeta())
    const seq = (prev?.segments.at(-1)?.seq ?? 0) + 1
    await this.append(
      { stage: c.stage, version: c.version, positions: c.positions, applied: c.applied, ...(c.outputSeq !== undefined ? { outputSeq: c.outputSeq } : {}) },
      { seq, kind: 'json', chunks: chunked(body), keepFrom: seq },
    )
  }

  /** Writes a segment into a free slot, then `meta` (the commit point). */
  async append(head: CheckpointHead, seg: Segment): Promise<{ bytes: number; retained: number }> {
    const prev = this.last ?? (await this.readMeta())
    const keep = seg.keep ? new Set(seg.keep) : undefined
    const kept = seg.kind === 'log' && prev?.kind === 'log' ? prev.segments.filter((s) => (keep ? keep.has(s.seq) : s.seq >= seg.keepFrom) && s.seq < seg.seq) : []
    if (kept.length >= SLOTS) throw new Error(`checkpoint ${this.key}: ${kept.length} segments retained, at most ${SLOTS - 1}`)
    const busy = new Set((prev?.segments ?? []).map((s) => s.slot))
    let slot = 0
    while (busy.has(slot)) slot++
    const hash = createHash('sha256')
    let bytes = 0
    for (const c of seg.chunks) {
      hash.update(c)
      bytes += c.length
    }
    await this.putChunks(slot, seg.chunks)
    const slots: Record<string, number> = { ...(prev?.slots ?? {}) }
    const stale = slots[slot] ?? 0
    slots[slot] = seg.chunks.length
    const ref: SegRef = { seq: seg.seq, slot, chunks: seg.chunks.length, bytes, sha256: hash.digest('hex') }
    const meta: Meta = { format: 2, kind: seg.kind, ...head, segments: [...kept, ref], slots }
    await this.put(`${this.key}.meta`, JSON.stringify(meta))
    this.last = meta
    // after the commit: empty the chunks this slot no longer uses, and the format-1 keys
    for (let i = seg.chunks.length; i < stale; i++) await this.put(`${this.key}.s${slot}.${i}`, new Uint8Array(0))
    if (this.legacy) {
      const l = this.legacy
      this.legacy = undefined
      for (let i = 0; i < l.chunks; i++) await this.kv.purge(`${this.key}.g${l.generation}.${i}`).catch(() => undefined)
    }
    return { bytes, retained: meta.segments.reduce((n, s) => n + s.bytes, 0) }
  }

  async clear(): Promise<void> {
    await this.kv.purge(`${this.key}.meta`).catch(() => undefined)
    this.last = undefined
  }

  private async readMeta(): Promise<Meta | undefined> {
    const m = await this.kv.get(`${this.key}.meta`)
    if (!m || m.operation !== 'PUT') return undefined
    const raw = JSON.parse(m.string()) as Meta | LegacyMeta
    if ('generation' in raw) {
      this.legacy = raw
      return undefined
    }
    return raw
  }

  /**
   * Streams the chunks of every segment of `meta`, oldest segment first, checking each segment's
   * SHA-256. All segments are read in bulk by one consumer (`kvLatest` over `<key>.*.*`: the
   * latest entry of each chunk key, as `kv.get` would return it, in revision order, which is
   * the order the segments were written); a chunk that comes before its turn waits in memory.
   * One consumer for the whole checkpoint, not one per segment: a restart after a long run reads
   * up to 64 segments, and a consumer costs a few round trips. A bucket the bulk reader does not
   * know is read key by key, a few reads ahead.
   */
  private async replay(meta: Meta, on: (seq: number, chunk: Uint8Array) => void): Promise<void> {
    const bulk = meta.segments.length ? kvLatest(this.kv, `${this.key}.*.*`) : undefined
    if (bulk) return this.readBulk(meta.segments, bulk, on)
    for (const seg of meta.segments) {
      const hash = createHash('sha256')
      await this.readEach(seg, (chunk) => {
        hash.update(chunk)
        on(seg.seq, chunk)
      })
      this.checkHash(seg, hash)
    }
  }

  private checkHash(seg: SegRef, hash: ReturnType<typeof createHash>): void {
    if (hash.digest('hex') !== seg.sha256) throw new Error(`checkpoint ${this.key} segment ${seg.seq} is corrupt (sha256 mismatch)`)
  }

  /** Every segment's chunks from one bulk read, passed on in segment and chunk order as soon as each is next. */
  private async readBulk(segs: readonly SegRef[], entries: AsyncIterable<KvLatest>, on: (seq: number, chunk: Uint8Array) => void): Promise<void> {
    const prefix = `${this.key}.s`
    const bySlot = new Map<number, number>()
    segs.forEach((s, j) => bySlot.set(s.slot, j))
    const waiting = segs.map(() => new Map<number, Uint8Array>())
    const next = segs.map(() => 0)
    let cur = 0
    let hash = createHash('sha256')
    // passes on what the current segment has in order; a complete segment is checked and the next one begins
    const drain = (): void => {
      while (cur < segs.length) {
        const seg = segs[cur]
        for (let c = waiting[cur].get(next[cur]); c !== undefined; c = waiting[cur].get(next[cur])) {
          waiting[cur].delete(next[cur]++)
          hash.update(c)
          on(seg.seq, c)
        }
        if (next[cur] < seg.chunks) return
        this.checkHash(seg, hash)
        hash = createHash('sha256')
        cur++
      }
    }
    drain()
    for await (const e of entries) {
      if (!e.key.startsWith(prefix)) continue // the meta of a partition key below this one, format-1 chunks
      const dot = e.key.indexOf('.', prefix.length)
      const j = dot > prefix.length ? bySlot.get(Number(e.key.slice(prefix.length, dot))) : undefined
      const i = Number(e.key.slice(dot + 1))
      // chunks of slots no retained segment uses, and past a segment's count (stale ones of an earlier, longer segment in this slot)
      if (j === undefined || !Number.isInteger(i) || i < next[j] || i >= segs[j].chunks) continue
      if (e.operation !== 'PUT') throw new Error(`checkpoint ${this.key} segment ${segs[j].seq} is missing chunk ${i}`)
      waiting[j].set(i, e.value)
      if (j === cur) drain()
    }
    drain()
    if (cur < segs.length) throw new Error(`checkpoint ${this.key} segment ${segs[cur].seq} is missing chunk ${next[cur]}`)
  }

  /** A segment's chunks one `kv.get` each, a few reads ahead. */
  private async readEach(seg: SegRef, emit: (chunk: Uint8Array) => void): Promise<void> {
    const fetch = (i: number): Promise<Uint8Array> =>
      this.kv.get(`${this.key}.s${seg.slot}.${i}`).then((e) => {
        if (!e || e.operation !== 'PUT') throw new Error(`checkpoint ${this.key} segment ${seg.seq} is missing chunk ${i}`)
        return e.value
      })
    const inflight: Array<Promise<Uint8Array>> = []
    let next = 0
    for (let i = 0; i < seg.chunks; i++) {
      while (next < seg.chunks && next < i + PREFETCH) inflight.push(fetch(next++))
      emit(await inflight.shift()!)
    }
  }

  private async openLegacy(meta: LegacyMeta): Promise<StoredCheckpoint> {
    this.legacy = meta
    const parts: Buffer[] = []
    for (let i = 0; i < meta.chunks; i++) {
      const e = await this.kv.get(`${this.key}.g${meta.generation}.${i}`)
      if (!e || e.operation !== 'PUT') throw new Error(`checkpoint ${this.key} generation ${meta.generation} is missing chunk ${i}`)
      parts.push(Buffer.from(e.value))
    }
    const body = Buffer.concat(parts)
    if (createHash('sha256').update(body).digest('hex') !== meta.sha256) throw new Error(`checkpoint ${this.key} generation ${meta.generation} is corrupt (sha256 mismatch)`)
    const cp = JSON.parse(body.toString('utf8')) as Checkpoint
    return {
      stage: cp.stage,
      version: cp.version,
      positions: cp.positions,
      applied: cp.applied,
      ...(cp.outputSeq !== undefined ? { outputSeq: cp.outputSeq } : {}),
      kind: 'json',
      seq: 0,
      state: cp.state,
      replay: () => Promise.resolve(),
    }
  }
}
