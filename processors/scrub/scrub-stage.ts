import type { OperatorFunction } from 'rxjs'
import { derivedId, RAW_KINDS, RejectReason, type Fact, type RawFact, type Redaction, type Rejection } from '../../schemas/index.js'
import { runStage, type Emission, type Stage, type StepResult, type Versioned } from '../stage.js'
import { implOf, type CompiledManifest } from './compiled.js'
import { checkFact, scrubPayload, tally } from './apply.js'
import { ScrubRejectCode, scrubRejection } from './errors.js'

export const SCRUB_STAGE = 'scrub'
export const SCRUB_VERSION = '1.0.0'
export const SCRUB_PRODUCER = `${SCRUB_STAGE}@${SCRUB_VERSION}`
/** The KV bucket redaction manifests live in; recorded in every scrubbed fact's `config`. */
export const REDACTION_BUCKET = 'ben-redaction'

const RAW = new Set<string>(RAW_KINDS)
const NO_REDACTIONS: readonly Redaction[] = []

/** `config` of the facts derived under the last (bucket, revision) seen: one frozen object shared by them all. */
let lastConfig: Readonly<Record<string, number>> = Object.freeze({})
let lastBucket = ''
let lastRevision = -1
function configOf(bucket: string, revision: number): Readonly<Record<string, number>> {
  if (bucket !== lastBucket || revision !== lastRevision) {
    lastConfig = Object.freeze({ [bucket]: revision })
    lastBucket = bucket
    lastRevision = revision
  }
  return lastConfig
}

function isRaw(f: Fact): f is RawFact {
  return f !== null && typeof f === 'object' && RAW.has((f as { kind?: unknown }).kind as string)
}

/** What scrubbing gives besides the derived fact's identity: the redacted payload and its record. */
export interface Scrubbed {
  readonly payload: RawFact['payload']
  readonly config: Readonly<Record<string, number>>
  readonly explain: string | null
  readonly redactions: readonly Redaction[]
}

/**
 * Applies a redaction manifest to one raw fact (metric, event, diag or alert) and derives the
 * scrubbed fact: same kind, redacted payload, id = derivedId('scrub', version, revision,
 * [input.id], input.source), lineage [input.id], producer `scrub@<version>`, config { 'ben-redaction':
 * revision }, `redactions` (field, rule, count: never the value; records carried on the input
 * are kept and merged) and an `explain` sentence. A fact that cannot be scrubbed safely (too
 * large for the manifest's limits, malformed) is rejected, never passed on unredacted.
 */
export function scrubStep(input: RawFact, config: Versioned<CompiledManifest>): StepResult<null> {
  const s = scrubContent(input, config)
  if ('rejected' in s) return { state: null, out: [], rejected: s.rejected }
  const out = {
    // the source is part of the id: raw fact ids are unique per source only (Nats-Msg-Id is <source>:<id>)
    id: derivedId(SCRUB_STAGE, SCRUB_VERSION, config.revision, [input.id], input.source),
    ts: input.ts,
    source: input.source,
    lane: input.lane,
    kind: input.kind,
    payload: s.payload,
    lineage: [input.id],
    producer: SCRUB_PRODUCER,
    config: s.config,
    explain: s.explain,
    redactions: s.redactions,
  } as RawFact
  return { state: null, out: [out] }
}

/**
 * `scrubStep` without the derived fact around it (no derived id to hash): for the sidecar, whose
 * scrubbed fact keeps its edge id. The same checks, the same payload and redaction record.
 */
export function scrubContent(input: RawFact, config: Versioned<CompiledManifest>): Scrubbed | { readonly rejected: Rejection } {
  if (!isRaw(input)) {
    return { rejected: scrubRejection(ScrubRejectCode.Malformed, `scrub takes metric, event, diag and alert facts, not '${String((input as { kind?: unknown } | null)?.kind)}'`) }
  }
  const { revision, bucket } = config
  if (!Number.isSafeInteger(revision) || revision < 0) {
    return {
      rejected: {
        reason: RejectReason.StageError,
        message: `scrub: config revision ${String(revision)} is not a non-negative integer; the runner passed a bad Versioned manifest`,
      },
    }
  }
  const m = implOf(config.value)
  const bad = checkFact(m, input)
  if (bad !== null) return { rejected: bad }
  tally.reset()
  const payload = scrubPayload(m, input)
  const carried = input.redactions ?? NO_REDACTIONS
  return {
    payload,
    config: configOf(bucket, revision),
    explain: tally.explain(carried.length),
    redactions: tally.size === 0 && carried.length === 0 ? [] : tally.redactions(carried),
  }
}

/** A bug in scrub, not a bad fact: resets the shared scratch space and refuses this one input. */
function stageError(err: unknown, input: unknown, config: Versioned<CompiledManifest>): Rejection {
  tally.reset()
  try {
    implOf(config.value).counts.fill(0)
  } catch {
    /* not a compiled manifest: nothing to reset */
  }
  const id = typeof (input as { id?: unknown } | null)?.id === 'string' ? (input as RawFact).id : '?'
  return { reason: RejectReason.StageError, message: `scrub failed on fact ${id}: ${(err as Error)?.message ?? String(err)}` }
}

/** `scrubContent` that never throws (a bug becomes the refusal of that one input, as in the stage). */
export function scrubContentSafely(input: RawFact, config: Versioned<CompiledManifest>): Scrubbed | { readonly rejected: Rejection } {
  try {
    return scrubContent(input, config)
  } catch (err) {
    return { rejected: stageError(err, input, config) }
  }
}

export const scrubStage: Stage<null, CompiledManifest, RawFact> = {
  name: SCRUB_STAGE,
  version: SCRUB_VERSION,
  initialState: () => null,
  accepts: isRaw,
  step(state, input, config) {
    try {
      return scrubStep(input, config)
    } catch (err) {
      return { state, out: [], rejected: stageError(err, input, config) }
    }
  },
  serialize: () => null,
  deserialize: () => null,
}

/**
 * The stage as an RxJS operator: each input becomes an Emission with its scrubbed fact, or its
 * rejection. The manifest is read at every input, so a new KV revision applies from the next fact.
 */
export function scrub(manifest: () => Versioned<CompiledManifest>): OperatorFunction<RawFact, Emission<RawFact>> {
  return runStage(scrubStage, manifest)
}
