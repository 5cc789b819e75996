import { parseEdgeFact, RAW_KINDS, type FactCodec, type RawFact, type RawKind } from '../schemas/index.js'
import type { Subjects } from '../streams/index.js'
import type { Versioned } from '../processors/stage.js'
import { scrubContentSafely, type CompiledManifest } from '../processors/scrub/index.js'
import { AcceptReason } from './errors.js'
import { frameFact } from './record.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** Why one input was refused (its position is added by the caller). */
export interface Refusal {
  readonly reason: AcceptReason
  readonly message: string
}

/** What one input became: a WAL record, or a refusal. */
export type Prepared = Buffer | Refusal

export const isRecord = (p: Prepared): p is Buffer => p instanceof Uint8Array

/**
 * The edge of the sidecar: one input in the JSON edge shape → validated (zod, once, here),
 * checked to speak for this sidecar, scrubbed with the same stage code as the spine (the
 * current `ben-redaction` revision), Avro-encoded and framed as a WAL record with its subject.
 * Never throws for any input.
 *
 * The fact keeps its edge id (given, or derived from the content before redaction, so the same
 * line sent twice is one fact) and kind; `producer` is the sidecar id, `config` the manifest
 * revision, `redactions` what was redacted (never the value), and `explain` says so when
 * something was. The spine scrubs it again; placeholders are never detected twice.
 */
export class Intake {
  private readonly subjectOf: Readonly<Record<RawKind, string>>
  private readonly explainPrefix: string
  // The last explain sentence made, and what it was made of: consecutive facts mostly redact the
  // same things, and the scrub then gives the same sentence (the same string) again.
  private lastScrubExplain: string | null = null
  private lastRevision = -1
  private lastExplain = ''
  private readonly scratch: Mutable<RawFact> = {
    id: '',
    ts: 0,
    source: '',
    lane: 'routine',
    kind: 'event',
    payload: { type: '', message: '', attrs: {} },
    lineage: [],
    producer: '',
    config: {},
    explain: null,
    redactions: [],
  } as unknown as Mutable<RawFact>

  constructor(
    readonly id: string,
    subjects: Subjects,
    private readonly codec: FactCodec,
    private readonly manifest: () => Versioned<CompiledManifest>,
  ) {
    const m = {} as Record<RawKind, string>
    for (const k of RAW_KINDS) m[k] = subjects.fact(k, id)
    this.subjectOf = Object.freeze(m)
    this.explainPrefix = `sidecar ${id} `
  }

  /** What parseEdgeFact is told: the arrival time of the input at hand (one object, set per input). */
  private readonly parseOptions = { arrivedAt: 0 }

  /** One object in the edge shape, arrived at `arrivedAt` (ms; the caller reads its clock once for a batch). */
  prepare(input: unknown, arrivedAt = Date.now()): Prepared {
    let candidate = input
    if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
      const source = (input as { source?: unknown }).source
      if (source === undefined) candidate = { ...(input as object), source: this.id }
      else if (source !== this.id) {
        return {
          reason: AcceptReason.WrongSource,
          message: `source: '${typeof source === 'string' ? source : typeof source}' is not this sidecar's id '${this.id}'; a sidecar speaks only for itself (leave source out or set it to '${this.id}')`,
        }
      }
    }
    const opts = this.parseOptions
    opts.arrivedAt = arrivedAt
    const parsed = parseEdgeFact(candidate, undefined, opts)
    if (!parsed.ok) return { reason: AcceptReason.Invalid, message: parsed.error.message }
    return this.scrubAndFrame(parsed.value)
  }

  /** One NDJSON line, arrived at `arrivedAt` (ms). */
  prepareLine(line: string, arrivedAt = Date.now()): Prepared {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (err) {
      return { reason: AcceptReason.NotJson, message: `not JSON: ${(err as Error).message}` }
    }
    return this.prepare(value, arrivedAt)
  }

  /** `sidecar <id> <the scrub's sentence> (ben-redaction revision <n>)`, built once for a run of facts that say the same. */
  private explain(scrubbed: string | null, revision: number): string {
    if (scrubbed !== this.lastScrubExplain || revision !== this.lastRevision) {
      this.lastExplain = `${this.explainPrefix}${scrubbed ?? ''} (ben-redaction revision ${revision})`
      this.lastScrubExplain = scrubbed
      this.lastRevision = revision
    }
    return this.lastExplain
  }

  private scrubAndFrame(raw: RawFact): Prepared {
    const config = this.manifest()
    // the scrub stage's own code, without the derived id it would hash (the fact keeps its edge id)
    const s = scrubContentSafely(raw, config)
    if ('rejected' in s) return { reason: AcceptReason.ScrubRefused, message: s.rejected.message }
    // the fact to encode, in one object reused for every record: it is only read while framed
    const fact = this.scratch
    fact.id = raw.id
    fact.ts = raw.ts
    fact.source = raw.source
    fact.lane = raw.lane
    fact.kind = raw.kind
    fact.payload = s.payload
    fact.lineage = raw.lineage
    fact.producer = this.id
    fact.config = s.config
    fact.explain = s.redactions.length > 0 ? this.explain(s.explain, config.revision) : null
    fact.redactions = s.redactions
    try {
      return frameFact(this.subjectOf[raw.kind], this.codec, fact as RawFact)
    } catch (err) {
      return { reason: AcceptReason.Invalid, message: `cannot encode fact ${raw.id}: ${(err as Error).message}` }
    }
  }
}
