import { z } from 'zod'
import { canonicalJson } from './canonical.js'
import { hashId } from './ids.js'
import { edgeContentId } from './content-id.js'
import { fail, ok, RejectReason, type Result } from './errors.js'
import { laneOf, type RawFact, type RawKind } from './types.js'
import { checkEventTime, checkSourceName, checkTexts, MAX_EVENT_TS } from './limits.js'
import { isToken, TOKEN_RE } from './token.js'
export { isToken, TOKEN_RE }

const token = (what: string) =>
  z.string().refine(isToken, {
    message: `${what} must be a NATS subject token: 1-128 characters, no '.', '*', '>', spaces or control characters`,
  })

const scalarToString = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v))
const stringMap = z.record(z.string(), scalarToString).default({})
const epochMs = z
  .number()
  .int('must be an integer (epoch milliseconds)')
  .nonnegative()
  .max(MAX_EVENT_TS, 'is after 2299-12-31T23:59:59.999Z, beyond what ClickHouse DateTime64 stores; send epoch milliseconds')
const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .optional()

const common = { source: token('source'), ts: epochMs, id }

export const EdgeMetric = z
  .object({ lane: z.literal('metric'), ...common, name: z.string().min(1).max(256), value: z.number().refine(Number.isFinite, 'must be a finite number'), labels: stringMap })
  .strict()
export const EdgeEvent = z.object({ lane: z.literal('event'), ...common, type: z.string().min(1).max(256), message: z.string().max(65536), attrs: stringMap }).strict()
export const EdgeDiag = z.object({ lane: z.literal('diag'), ...common, component: z.string().min(1).max(256), message: z.string().max(65536), attrs: stringMap }).strict()
export const EdgeAlert = z
  .object({
    lane: z.literal('alert'),
    ...common,
    rule: z.string().min(1).max(256),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    message: z.string().max(65536),
    attrs: stringMap,
  })
  .strict()

export const EdgeFact = z.discriminatedUnion('lane', [EdgeMetric, EdgeEvent, EdgeDiag, EdgeAlert])
export type EdgeFact = z.infer<typeof EdgeFact>

/** One line per problem: `field: what is wrong`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '(fact)'
      if (i.code === 'invalid_union' && i.path.length === 0) return `lane: must be one of metric, event, diag, alert`
      if (i.code === 'unrecognized_keys') return `${path}: unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`
      return `${path}: ${i.message}`
    })
    .join('; ')
}

/**
 * Validates one fact in the JSON edge shape (DESIGN.md) and converts it to a raw fact.
 * `expect` carries what the subject says (lane and source) when the JSON arrived on the wire:
 * the subject the server authorised is the identity, and a body that claims another is refused.
 */
export function parseEdgeFact(input: unknown, expect?: { lane: RawKind; source: string }, opts: { arrivedAt?: number } = {}): Result<RawFact> {
  let candidate = input
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const o = input as Record<string, unknown>
    const source = expect?.source ?? o.source
    if (typeof source === 'string' && source !== goodSource) {
      const bad = checkSourceName(source)
      if (bad) return fail(RejectReason.BadName, bad)
    }
    const text = checkTexts(o)
    if (text) return { ok: false, error: text }
  }
  if (expect && input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const o = input as Record<string, unknown>
    if (o.lane !== undefined && o.lane !== expect.lane) {
      return fail(RejectReason.Invalid, `lane: '${String(o.lane)}' does not match the subject's lane '${expect.lane}'`)
    }
    if (o.source !== undefined && o.source !== expect.source) {
      return fail(RejectReason.Invalid, `source: '${String(o.source)}' does not match the subject's source '${expect.source}'`)
    }
    candidate = { ...o, lane: expect.lane, source: expect.source }
  }
  // plainly valid input skips zod (the same checks, the same fact); zod judges and words the rest
  const fast = fastRawFact(candidate)
  if (fast) {
    if (opts.arrivedAt !== undefined) {
      const late = checkEventTime(fast.ts, opts.arrivedAt)
      if (late) return { ok: false, error: late }
    }
    return ok(fast)
  }
  const parsed = parseEdgeWithZod(candidate)
  if (parsed.ok && opts.arrivedAt !== undefined) {
    const late = checkEventTime(parsed.value.ts, opts.arrivedAt)
    if (late) return { ok: false, error: late }
  }
  return parsed
}

/** The edge schema by zod alone, without the fast path: the reference that path is checked against. */
export function parseEdgeWithZod(input: unknown): Result<RawFact> {
  const parsed = EdgeFact.safeParse(input)
  return parsed.success ? ok(toRawFact(parsed.data)) : fail(RejectReason.Invalid, describeIssues(parsed.error))
}

const ID_RE = /^[\x21-\x7e]{1,128}$/
const SEVERITY = new Set(['low', 'medium', 'high', 'critical'])
const KEYS = new Map<unknown, ReadonlySet<string>>([
  ['metric', new Set(['lane', 'source', 'ts', 'id', 'name', 'value', 'labels'])],
  ['event', new Set(['lane', 'source', 'ts', 'id', 'type', 'message', 'attrs'])],
  ['diag', new Set(['lane', 'source', 'ts', 'id', 'component', 'message', 'attrs'])],
  ['alert', new Set(['lane', 'source', 'ts', 'id', 'rule', 'severity', 'message', 'attrs'])],
])

/** What zod's isPlainObject takes, among the objects the fast path reads: {} or Object.create(null). */
function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false
  const p = Object.getPrototypeOf(v)
  return p === Object.prototype || p === null
}

/**
 * `stringMap` as zod gives it (scalars → strings, absent → {}), or undefined for zod to judge. A
 * plain object whose values are all strings already (what JSON lines and the OTLP door mostly
 * give) is the answer itself, not copied: the same keys, values and order as the copy.
 */
function fastMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined) return {}
  if (!isPlain(v)) return undefined
  let strings = true
  for (const k in v) {
    if (k === '__proto__') return undefined // zod drops it: let zod do it
    const x = v[k]
    if (typeof x === 'string') continue
    if ((typeof x === 'number' && Number.isFinite(x)) || typeof x === 'boolean') strings = false
    else return undefined
  }
  if (Object.getOwnPropertySymbols(v).length !== 0) return undefined
  if (strings && Object.getPrototypeOf(v) === Object.prototype) return v as Record<string, string>
  const out: Record<string, string> = {}
  for (const k in v) out[k] = String(v[k])
  return out
}

/**
 * The last source that passed both checks a source gets (checkSourceName's and TOKEN_RE's): the
 * facts of a door or a sidecar name one source, over and over, and each check is a function of
 * the text alone.
 */
let goodSource: string | undefined
function isGoodSource(source: string): boolean {
  if (!TOKEN_RE.test(source)) return false
  if (checkSourceName(source) === null) goodSource = source
  return true
}

const text = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max

/**
 * The edge schema's answer for input that is plainly valid, without zod: the same checks and
 * the same output as `toRawFact(EdgeFact.parse(input))` (edge-fast.test.ts compares them);
 * undefined when anything is unusual — an unknown key, a wrong type, an odd object — and zod
 * must judge and word the refusal.
 */
function fastRawFact(input: unknown): RawFact | undefined {
  if (!isPlain(input)) return undefined
  const o = input
  const allowed = KEYS.get(o.lane)
  if (!allowed) return undefined
  for (const k in o) if (!allowed.has(k)) return undefined
  const { source, ts } = o
  const id = o.id
  if (typeof source !== 'string' || (source !== goodSource && !isGoodSource(source))) return undefined
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0 || ts > MAX_EVENT_TS) return undefined
  if (id !== undefined && (typeof id !== 'string' || !ID_RE.test(id))) return undefined
  if (o.lane === 'metric') {
    const { name, value } = o
    if (!text(name, 1, 256) || typeof value !== 'number' || !Number.isFinite(value)) return undefined
    const labels = fastMap(o.labels)
    return labels && rawFact('metric', { name, value, labels }, ts, source, id)
  }
  const { message } = o
  if (!text(message, 0, 65536)) return undefined
  const attrs = fastMap(o.attrs)
  if (!attrs) return undefined
  if (o.lane === 'event') return text(o.type, 1, 256) ? rawFact('event', { type: o.type, message, attrs }, ts, source, id) : undefined
  if (o.lane === 'diag') return text(o.component, 1, 256) ? rawFact('diag', { component: o.component, message, attrs }, ts, source, id) : undefined
  const { rule, severity } = o
  return text(rule, 1, 256) && typeof severity === 'string' && SEVERITY.has(severity)
    ? rawFact('alert', { rule, severity: severity as 'low', message, attrs }, ts, source, id)
    : undefined
}

/** The raw fact of checked edge input, its keys in toRawFact's order (a function of its own: no closure per fact). */
function rawFact(kind: RawKind, payload: RawFact['payload'], ts: number, source: string, id: string | undefined): RawFact {
  return {
    ts,
    source,
    lane: laneOf(kind),
    lineage: [],
    producer: 'edge',
    config: {},
    explain: null,
    redactions: [],
    id: id ?? contentId(kind, source, ts, payload),
    kind,
    payload,
  } as unknown as RawFact
}

/** Parses a JSON text in the edge shape. */
export function parseEdgeJson(text: string, expect?: { lane: RawKind; source: string }, opts: { arrivedAt?: number } = {}): Result<RawFact> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return fail(RejectReason.NotJson, `not JSON: ${(err as Error).message}`)
  }
  return parseEdgeFact(value, expect, opts)
}

function toRawFact(e: EdgeFact): RawFact {
  const base = { ts: e.ts, source: e.source, lane: laneOf(e.lane), lineage: [], producer: 'edge', config: {}, explain: null, redactions: [] }
  switch (e.lane) {
    case 'metric': {
      const payload = { name: e.name, value: e.value, labels: e.labels }
      return { ...base, id: e.id ?? contentId(e.lane, e.source, e.ts, payload), kind: 'metric', payload }
    }
    case 'event': {
      const payload = { type: e.type, message: e.message, attrs: e.attrs }
      return { ...base, id: e.id ?? contentId(e.lane, e.source, e.ts, payload), kind: 'event', payload }
    }
    case 'diag': {
      const payload = { component: e.component, message: e.message, attrs: e.attrs }
      return { ...base, id: e.id ?? contentId(e.lane, e.source, e.ts, payload), kind: 'diag', payload }
    }
    case 'alert': {
      const payload = { rule: e.rule, severity: e.severity, message: e.message, attrs: e.attrs }
      return { ...base, id: e.id ?? contentId(e.lane, e.source, e.ts, payload), kind: 'alert', payload }
    }
    default: {
      const never: never = e
      throw new Error(`unreachable lane ${String((never as { lane: string }).lane)}`)
    }
  }
}

/** The id of an edge fact without one: publishing the same content twice stores one fact. */
export function contentId(kind: string, source: string, ts: number, payload: unknown): string {
  return edgeContentId(kind, source, ts, payload) ?? hashId('edge', kind, source, String(ts), canonicalJson(payload))
}

/** The inverse of parseEdgeFact, for output at the edges (`ben tail`, `ben query`). */
export function toEdgeJson(f: RawFact): Record<string, unknown> {
  const base = { id: f.id, lane: f.kind, source: f.source, ts: f.ts }
  switch (f.kind) {
    case 'metric':
      return { ...base, name: f.payload.name, value: f.payload.value, labels: f.payload.labels }
    case 'event':
      return { ...base, type: f.payload.type, message: f.payload.message, attrs: f.payload.attrs }
    case 'diag':
      return { ...base, component: f.payload.component, message: f.payload.message, attrs: f.payload.attrs }
    case 'alert':
      return { ...base, rule: f.payload.rule, severity: f.payload.severity, message: f.payload.message, attrs: f.payload.attrs }
  }
}
