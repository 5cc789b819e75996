import type { Fact } from '../schemas/index.js'
import type { RowMeta } from './projection.js'

/** Columns every fact table starts with, in order. */
export const COMMON_COLUMNS = ['id', 'ts', 'source', 'kind', 'lane', 'producer', 'lineage', 'config', 'explain'] as const
/** Columns every fact table ends with, in order. */
export const TRAILER_COLUMNS = ['schema_fp', 'avro', 'stream', 'stream_seq'] as const

export function commonValues(f: Fact): unknown[] {
  return [f.id, f.ts, f.source, f.kind, f.lane, f.producer, f.lineage, f.config, f.explain ?? '']
}

/** The fact's Avro bytes (base64) and where it came from: enough to rebuild it exactly. */
export function trailerValues(f: Fact, meta: RowMeta): unknown[] {
  const enc = meta.avro ?? meta.codec.encode(f)
  return [enc.fingerprint, Buffer.from(enc.data.buffer, enc.data.byteOffset, enc.data.byteLength).toString('base64'), meta.stream, meta.seq]
}
