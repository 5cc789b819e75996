import { Action, type FieldDecision } from './fields.js'
import { MASK_PLACEHOLDER } from './compiled.js'
import { countedRanks, keyedHash, redactText, type Engine } from './scan.js'
import type { Tally } from './tally.js'
import { countRedactions } from './metrics.js'

/** Appended to truncated values; the result, marker included, is at most maxLength long. */
export const TRUNCATION_MARK = '…[truncated]'
/** What the `hash` rule writes: `hmac:` and the first 16 hex digits of HMAC-SHA-256. */
export const HMAC_VALUE = /^hmac:[0-9a-f]{16}$/
/** Rounds of scan → truncate before a value must have settled; otherwise it is replaced whole. */
const MAX_PASSES = 4

/** Cuts `s` to at most `max` UTF-16 units, marker included, never splitting a surrogate pair. */
export function truncateText(s: string, max: number): string {
  if (s.length <= max) return s
  const mark = max > TRUNCATION_MARK.length * 2 ? TRUNCATION_MARK : ''
  let keep = max - mark.length
  const c = s.charCodeAt(keep - 1)
  if (c >= 0xd800 && c <= 0xdbff) keep--
  return s.slice(0, keep) + mark
}

/** Applies a mask/hash/drop rule to a string field; returns the new value ('' for drop). */
export function replaceValue(engine: Engine, d: FieldDecision, value: string): string {
  switch (d.action) {
    case Action.Drop:
      return ''
    case Action.Mask:
      return value === '' ? value : d.placeholder
    case Action.Hash:
      return hashedValue(engine, value)
    default:
      return value
  }
}

/** What the `hash` rule makes of a value (`hmac:<16 hex>`, or the value when it is empty or hashed already), memoised (the same value, the same string). */
function hashedValue(engine: Engine, value: string): string {
  let h = engine.hashedValues.get(value)
  if (h === undefined) {
    h = value === '' || HMAC_VALUE.test(value) || engine.hmacKey === null ? value : `hmac:${keyedHash(engine, value)}`
    if (engine.hashedValues.size >= HASHED_VALUES_LIMIT) engine.hashedValues.clear()
    engine.hashedValues.set(value, h)
  }
  return h
}
const HASHED_VALUES_LIMIT = 8192

/**
 * Scans and/or truncates a free-text value until it settles: redacting can shorten text so that
 * a cut lands elsewhere, and truncating can expose a new boundary, so the value is processed
 * again until one more round changes nothing (the output is then stable under re-scrubbing).
 * Counts go to `tally` under the field's path (`d.path`).
 */
export function processText(engine: Engine, counts: Int32Array, tally: Tally, value: string, d: FieldDecision): string {
  let v = value
  let truncated = false
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let next = d.scan ? redactText(engine, v, counts) : v
    if (d.action === Action.Truncate && next.length > d.maxLength) {
      next = truncateText(next, d.maxLength)
      truncated = true
    }
    if (next === v) {
      if (v !== value) flush(engine, counts, tally, d.path, truncated)
      return v
    }
    v = next
  }
  flush(engine, counts, tally, d.path, truncated)
  tally.add(d.path, 'unstable', 1)
  return d.action === Action.Truncate ? truncateText(MASK_PLACEHOLDER, d.maxLength) : MASK_PLACEHOLDER
}

function flush(engine: Engine, counts: Int32Array, tally: Tally, field: string, truncated: boolean): void {
  const dets = engine.detectors
  // only the ranks counted since the last flush can be non-zero (in rank order, as before)
  const hi = Math.min(countedRanks.hi, counts.length - 1)
  for (let i = countedRanks.lo; i <= hi; i++) {
    if (counts[i] === 0) continue
    tally.add(field, dets[i].name, counts[i], dets[i].hash ? 'hashed' : 'masked')
    countRedactions(dets[i].name, counts[i])
    counts[i] = 0
  }
  countedRanks.lo = 0x7fffffff
  countedRanks.hi = -1
  if (truncated) tally.add(field, 'truncate', 1)
}
