import type { KV } from '@nats-io/kv'
import { createHash } from 'node:crypto'

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

interface Meta {
  readonly generation: number
  readonly chunks: number
  readonly sha256: string
  readonly bytes: number
}

const CHUNK = 512 * 1024

/**
 * Checkpoints in KV `ben-checkpoints`. A state larger than one KV value is split into chunks
 * under a new generation; the small `meta` key is written last and names the generation, so a
 * crash mid-write leaves the previous checkpoint intact. Old generations are deleted after.
 */
export class CheckpointStore {
  constructor(
    private readonly kv: KV,
    private readonly key: string,
  ) {}

  async load(): Promise<Checkpoint | undefined> {
    const m = await this.kv.get(`${this.key}.meta`)
    if (!m || m.operation !== 'PUT') return undefined
    const meta = JSON.parse(m.string()) as Meta
    const parts: Buffer[] = []
    for (let i = 0; i < meta.chunks; i++) {
      const e = await this.kv.get(`${this.key}.g${meta.generation}.${i}`)
      if (!e || e.operation !== 'PUT') throw new Error(`checkpoint ${this.key} generation ${meta.generation} is missing chunk ${i}`)
      parts.push(Buffer.from(e.value))
    }
    const body = Buffer.concat(parts)
    const sha = createHash('sha256').update(body).digest('hex')
    if (sha !== meta.sha256) throw new Error(`checkpoint ${this.key} generation ${meta.generation} is corrupt (sha256 mismatch)`)
    return JSON.parse(body.toString('utf8')) as Checkpoint
  }

  /** Saves a checkpoint, or its JSON text (serialised when the snapshot was taken). */
  async save(cp: Checkpoint | string): Promise<void> {
    const body = Buffer.from(typeof cp === 'string' ? cp : JSON.stringify(cp), 'utf8')
    const prev = await this.kv.get(`${this.key}.meta`)
    const prevMeta = prev && prev.operation === 'PUT' ? (JSON.parse(prev.string()) as Meta) : undefined
    const generation = (prevMeta?.generation ?? 0) + 1
    const chunks = Math.max(1, Math.ceil(body.length / CHUNK))
    for (let i = 0; i < chunks; i++) await this.kv.put(`${this.key}.g${generation}.${i}`, body.subarray(i * CHUNK, (i + 1) * CHUNK))
    const meta: Meta = { generation, chunks, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length }
    await this.kv.put(`${this.key}.meta`, JSON.stringify(meta))
    if (prevMeta) for (let i = 0; i < prevMeta.chunks; i++) await this.kv.purge(`${this.key}.g${prevMeta.generation}.${i}`).catch(() => undefined)
  }

  async clear(): Promise<void> {
    await this.kv.purge(`${this.key}.meta`).catch(() => undefined)
  }
}
