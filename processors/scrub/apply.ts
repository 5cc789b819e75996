import type { Labels, RawFact, RawKind, Redaction, Rejection } from '../../schemas/index.js'
import { Action, MAP_FIELD, TOP_FIELDS } from './fields.js'
import type { ManifestImpl } from './compiled.js'
import { ScrubRejectCode, scrubRejection } from './errors.js'
import { processText, replaceValue } from './text.js'
import { Tally } from './tally.js'
import { credentialValue, type KeyClass } from './generic.js'
import { countRedactions } from './metrics.js'

const CREDENTIAL_PLACEHOLDER = '[credential]'
/** A map value (maybe quoted) that is itself a credential for a key of class `cls`. */
function secretValue(v: string, cls: number): boolean {
  let s = v.trim()
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) s = s.slice(1, -1)
  return s !== CREDENTIAL_PLACEHOLDER && credentialValue(s, cls as KeyClass, false)
}

/** The one tally, reused for every fact (scrubbing is synchronous and never re-entered). */
export const tally = new Tally()

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Checks the shape and size of a raw fact before any scanning: something that is not a
 * well-formed raw fact, or is too large to scan within the manifest's limits, is refused
 * (never passed on unredacted). Returns null when the fact can be scrubbed.
 */
export function checkFact(m: ManifestImpl, f: RawFact): Rejection | null {
  const o = f as unknown as Record<string, unknown>
  if (typeof o.id !== 'string' || o.id === '' || !Number.isSafeInteger(o.ts) || typeof o.source !== 'string' || typeof o.lane !== 'string') {
    return scrubRejection(ScrubRejectCode.Malformed, 'fact lacks a string id, an integer ts, a source or a lane; it cannot be scrubbed or republished')
  }
  if (o.redactions !== undefined && !validRedactions(o.redactions)) {
    return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: redactions must be a list of {field, rule, count}`)
  }
  const p = o.payload
  if (!isRecord(p)) return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload is not an object`)
  const kind = f.kind
  const { maxFieldLength, maxFields, maxTotalLength } = m.limits
  let total = 0
  for (const name of TOP_FIELDS[kind]) {
    const v = p[name]
    if (typeof v !== 'string') return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload.${name} must be a string`)
    if (v.length > maxFieldLength) return tooLarge(f.id, `payload.${name} is ${v.length} characters`, `limits.maxFieldLength ${maxFieldLength}`)
    total += v.length
  }
  if (kind === 'metric' && typeof p.value !== 'number') return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload.value must be a number`)
  if (kind === 'alert' && typeof p.severity !== 'string') return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload.severity must be a string`)
  const mapName = MAP_FIELD[kind]
  const map = p[mapName]
  if (!isRecord(map)) return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload.${mapName} must be a map of strings`)
  let entries = 0
  for (const k in map) {
    if (!Object.prototype.hasOwnProperty.call(map, k)) continue
    const v = map[k]
    if (typeof v !== 'string') return scrubRejection(ScrubRejectCode.Malformed, `fact ${f.id}: payload.${mapName} entry ${entries} is not a string`)
    if (++entries > maxFields) {
      return scrubRejection(
        ScrubRejectCode.TooManyFields,
        `fact ${f.id}: payload.${mapName} has more than ${maxFields} entries (limits.maxFields); reduce them at the source or raise the limit`,
      )
    }
    if (v.length > maxFieldLength || k.length > maxFieldLength)
      return tooLarge(f.id, `payload.${mapName} entry ${entries - 1} is ${Math.max(v.length, k.length)} characters`, `limits.maxFieldLength ${maxFieldLength}`)
    total += v.length + k.length
  }
  if (total > maxTotalLength) return tooLarge(f.id, `payload holds ${total} characters`, `limits.maxTotalLength ${maxTotalLength}`)
  return null
}

function tooLarge(id: string, what: string, limit: string): Rejection {
  return scrubRejection(
    ScrubRejectCode.TooLarge,
    `fact ${id}: ${what}, over ${limit}; it is not scanned and not passed on unredacted. Raise the limit in the manifest or split the input at the source`,
  )
}

function validRedactions(r: unknown): r is Redaction[] {
  if (!Array.isArray(r)) return false
  for (const x of r) {
    if (!isRecord(x) || typeof x.field !== 'string' || typeof x.rule !== 'string' || !Number.isInteger(x.count) || (x.count as number) < 0 || (x.count as number) > 2 ** 31 - 1)
      return false
  }
  return true
}

/** Scrubs the payload of a checked fact; counts go to `tally`. Returns the input payload when nothing changed. */
export function scrubPayload(m: ManifestImpl, f: RawFact): RawFact['payload'] {
  const kind = f.kind
  const p = f.payload as unknown as Record<string, unknown>
  const top = m.top[kind]
  const names = TOP_FIELDS[kind]
  let changed = false
  const v0 = p[names[0]] as string
  const n0 = scrubTop(m, names[0], v0, top[0])
  if (n0 !== v0) changed = true
  let n1: string | undefined
  if (names.length > 1) {
    const v1 = p[names[1]] as string
    n1 = scrubTop(m, names[1], v1, top[1])
    if (n1 !== v1) changed = true
  }
  const map = p[MAP_FIELD[kind]] as Labels
  const newMap = scrubMap(m, kind, map)
  if (newMap !== map) changed = true
  if (!changed) return f.payload
  switch (kind) {
    case 'metric':
      return { name: n0, value: f.payload.value as number, labels: newMap }
    case 'event':
      return { type: n0, message: n1 as string, attrs: newMap }
    case 'diag':
      return { component: n0, message: n1 as string, attrs: newMap }
    case 'alert':
      return { rule: n0, severity: (f.payload as { severity: string }).severity, message: n1 as string, attrs: newMap }
  }
}

function scrubTop(m: ManifestImpl, field: string, value: string, d: ReturnType<ManifestImpl['decideKey']>): string {
  switch (d.action) {
    case Action.Drop:
    case Action.Mask:
    case Action.Hash: {
      const out = replaceValue(m.engine, d, value)
      if (out !== value) tally.add(field, d.rule, 1)
      return out
    }
    default:
      return d.scan || d.action === Action.Truncate ? processText(m.engine, m.counts, tally, value, d) : value
  }
}

function scrubMap(m: ManifestImpl, kind: RawKind, map: Labels): Labels {
  const mapName = MAP_FIELD[kind]
  let out: Record<string, string> | null = null
  for (const k in map) {
    if (!Object.prototype.hasOwnProperty.call(map, k)) continue
    const v = map[k]
    const d = m.decideKey(kind, k)
    let nv: string | null = v
    if (d.keySecret !== null) {
      nv = null
      tally.add(mapName, `key-${d.keySecret}`, 1)
    } else if (d.unknown) {
      nv = null
      tally.add(d.path, 'deny-unknown', 1)
    } else if (d.action === Action.Drop) {
      nv = null
      tally.add(d.path, d.rule, 1)
    } else if (d.action === Action.Mask || d.action === Action.Hash) {
      nv = replaceValue(m.engine, d, v)
      if (nv !== v) tally.add(d.path, d.rule, 1)
    } else if (d.secretKey !== 0 && secretValue(v, d.secretKey)) {
      // the key names a secret and the value is one: `attrs.password = "hunter2"`, `labels.apiKey = "…"`
      nv = CREDENTIAL_PLACEHOLDER
      tally.add(d.path, 'credential', 1, 'masked')
      countRedactions('credential', 1)
    } else if (d.scan || d.action === Action.Truncate) {
      nv = processText(m.engine, m.counts, tally, v, d)
    }
    // every entry before the first change was kept as it was: copy those, then carry on
    if (out === null && nv !== v) out = entriesBefore(map, k)
    if (out !== null && nv !== null) setEntry(out, k, nv)
  }
  return out ?? map
}

function entriesBefore(map: Labels, stop: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in map) {
    if (k === stop) break
    if (Object.prototype.hasOwnProperty.call(map, k)) setEntry(out, k, map[k])
  }
  return out
}

/** Plain assignment, except for a key called `__proto__`, which must stay an own entry. */
function setEntry(o: Record<string, string>, k: string, v: string): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}
