import { canonicalJson, type Fact } from '../schemas/index.js'

/** The full fact as canonical JSON (bytes as base64): enough to rebuild it exactly. */
export function factBody(f: Fact): string {
  return canonicalJson(f)
}

/** Columns every fact table has. */
export function commonColumns(f: Fact, seq: number): Record<string, unknown> {
  return {
    id: f.id,
    ts: f.ts,
    source: f.source,
    kind: f.kind,
    lane: f.lane,
    producer: f.producer,
    lineage: f.lineage,
    config: f.config,
    explain: f.explain ?? '',
    body: factBody(f),
    stream_seq: seq,
  }
}
