import { parseEdgeFact, parseEdgeJson, RAW_KINDS, type RawFact, type Redaction, type Rejection } from '../../schemas/index.js'
import type { Versioned } from '../stage.js'
import type { CompiledManifest } from './compiled.js'
import { defaultManifest, versioned } from './default-manifest.js'
import { scrubStage } from './scrub-stage.js'

export type ScrubFactResult = { readonly ok: true; readonly fact: RawFact; readonly redactions: readonly Redaction[] } | { readonly ok: false; readonly error: Rejection }

let fallback: Versioned<CompiledManifest> | undefined
const RAW = new Set<string>(RAW_KINDS)

/**
 * Scrubs one fact offline, with exactly the code the scrub stage runs: `input` is a JSON line or
 * an object in the edge shape (`{"lane":"event","source":…,"message":…}`), or an already
 * converted raw fact. Returns the scrubbed fact and what was redacted (field, rule or detector,
 * count: never a value), or why the fact was refused. The manifest defaults to the shipped one
 * (compiled once; its hash key from $BEN_SCRUB_HASH_KEY, else hashing masks).
 */
export function scrubFact(input: string | object, manifest?: CompiledManifest | Versioned<CompiledManifest>): ScrubFactResult {
  let fact: RawFact
  if (typeof input === 'string') {
    const r = parseEdgeJson(input)
    if (!r.ok) return { ok: false, error: r.error }
    fact = r.value
  } else if (input !== null && typeof input === 'object' && RAW.has((input as { kind?: unknown }).kind as string) && 'payload' in input) {
    fact = input as RawFact
  } else {
    const r = parseEdgeFact(input)
    if (!r.ok) return { ok: false, error: r.error }
    fact = r.value
  }
  const config = manifest === undefined ? (fallback ??= versioned(defaultManifest())) : 'revision' in manifest && 'value' in manifest ? manifest : versioned(manifest)
  const step = scrubStage.step(null, fact, config)
  if (step.rejected) return { ok: false, error: step.rejected }
  const out = step.out[0]
  return { ok: true, fact: out as RawFact, redactions: (out as RawFact).redactions ?? [] }
}
