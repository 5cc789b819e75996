import { parseDuration } from './duration.js'
import { RejectReason, type Rejection } from './errors.js'

/**
 * What Ben refuses at every door (edge JSON, raw NATS publishes through scrub, the sidecar)
 * because storing it would mean rewriting it or letting it pass for something else:
 *
 * - event times after 2299-12-31T23:59:59.999Z: ClickHouse DateTime64(3) cannot store them
 *   and would clamp them (MAX_EVENT_TS);
 * - event times further ahead of their arrival than BEN_MAX_FUTURE_SKEW (default 5m): one such
 *   fact would move its series' or the incidents' event-time clock into the future;
 * - text that is not valid Unicode (lone surrogates) or holds U+FFFD, the mark a decoder leaves
 *   where the bytes were not valid UTF-8: Ben never replaces input silently, and it cannot tell a
 *   replaced byte from a sent U+FFFD;
 * - source names outside printable ASCII: zero-width and bidi-control characters, fullwidth and
 *   other look-alike letters let one name pass for another (`wеb-1` with a Cyrillic `е`).
 */

/** 2299-12-31T23:59:59.999Z, the last millisecond ClickHouse DateTime64(3) holds. */
export const MAX_EVENT_TS = Date.UTC(2299, 11, 31, 23, 59, 59, 999)
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000

let skewOverride: number | undefined
let skewFromEnv: number | undefined

/** BEN_MAX_FUTURE_SKEW (a duration: `5m`, `30s`, ms), read once; a bad value stops start-up with a message. */
export function maxFutureSkewMs(): number {
  if (skewOverride !== undefined) return skewOverride
  if (skewFromEnv === undefined) {
    const v = process.env.BEN_MAX_FUTURE_SKEW
    const ms = v === undefined || v === '' ? DEFAULT_MAX_FUTURE_SKEW_MS : parseDuration(v)
    if (ms === undefined) throw new Error(`BEN_MAX_FUTURE_SKEW must be a duration like 5m, 30s or 300000 (ms), not '${v}'`)
    skewFromEnv = ms
  }
  return skewFromEnv
}

/** Sets the skew for this process (tests, embedding); undefined goes back to the environment. */
export function setMaxFutureSkewMs(ms: number | undefined): void {
  skewOverride = ms
}

const iso = (ts: number): string => (Number.isFinite(ts) && Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts))

/** An event time beyond what ClickHouse stores, or too far ahead of its arrival; null when fine. */
export function checkEventTime(ts: number, arrivedAt?: number, skewMs = maxFutureSkewMs()): Rejection | null {
  if (ts > MAX_EVENT_TS)
    return {
      reason: RejectReason.Invalid,
      message: `ts: ${ts} is after 2299-12-31T23:59:59.999Z, beyond what ClickHouse DateTime64 stores; it would be clamped. Send epoch milliseconds`,
    }
  if (arrivedAt !== undefined && ts > arrivedAt + skewMs) {
    return {
      reason: RejectReason.FutureTs,
      message: `ts: ${iso(ts)} is ${Math.round((ts - arrivedAt) / 1000)} s after the fact arrived (${iso(arrivedAt)}), more than the allowed skew of ${Math.round(skewMs / 1000)} s (BEN_MAX_FUTURE_SKEW): fix the source's clock or its timestamps`,
    }
  }
  return null
}

const hex = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`

function kindOf(cp: number): string {
  if ((cp >= 0x200b && cp <= 0x200d) || cp === 0x2060 || cp === 0xfeff || cp === 0x00ad) return 'a zero-width character'
  if (cp === 0x200e || cp === 0x200f || cp === 0x061c || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
    return 'a bidirectional-control character that reorders how the name reads'
  if (cp >= 0xff01 && cp <= 0xff5e) return 'a fullwidth form of an ASCII character'
  return 'a non-ASCII character that can pass for another name'
}

/** Printable ASCII without `.`, `*`, `>` (subject tokens): null when `s` may name a source. */
export function checkSourceName(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7e) {
      const cp = s.codePointAt(i) as number
      return `source: '${s}' has ${hex(cp)} at position ${i}, ${kindOf(cp)}; source names are printable ASCII (letters, digits, '-', '_', …; no '.', '*', '>', spaces)`
    }
  }
  return null
}

/** Valid Unicode without U+FFFD: null when `s` is text Ben can store as it came. */
export function checkText(field: string, s: string): string | null {
  if (textOk(s)) return null
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed())
    return `${field}: holds a lone UTF-16 surrogate, which has no UTF-8 form; it would be replaced. Send valid Unicode`
  const at = s.indexOf('\uFFFD')
  if (at >= 0)
    return `${field}: holds U+FFFD at position ${at}, the mark of bytes that were not valid UTF-8 (or were already replaced); Ben refuses text it would store rewritten. Send valid UTF-8`
  return null
}

/** True when `s` is text Ben can store as it came (checkText says why not). */
const textOk = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed() && s.indexOf('\uFFFD') < 0

/**
 * Checks the texts of an edge object or a raw fact's payload: every string value, and the keys
 * and values of maps one level down. Returns the first problem as a rejection.
 */
export function checkTexts(o: Readonly<Record<string, unknown>>, prefix = ''): Rejection | null {
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue
    const v = o[k]
    // (the field names are built only for the message of a refusal)
    if (typeof v === 'string') {
      if (!textOk(v)) return { reason: RejectReason.InvalidText, message: checkText(`${prefix}${k}`, v)! }
    } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const m = v as Record<string, unknown>
      for (const mk in m) {
        if (!Object.prototype.hasOwnProperty.call(m, mk)) continue
        const mv = m[mk]
        if (textOk(mk) && (typeof mv !== 'string' || textOk(mv))) continue
        const bad = checkText(`${prefix}${k} key`, mk) ?? checkText(`${prefix}${k}.${mk}`, mv as string)
        return { reason: RejectReason.InvalidText, message: bad! }
      }
    }
  }
  return null
}

/**
 * The door check of a raw fact that did not come through the edge's zod (Avro published
 * straight to `ben.fact.<lane>.<source>`): source name, event time range and texts.
 */
export function checkRawFact(f: { readonly source: string; readonly ts: number; readonly id: string; readonly payload: unknown }): Rejection | null {
  const name = checkSourceName(f.source)
  if (name) return { reason: RejectReason.BadName, message: name }
  const bad = checkText('id', f.id)
  if (bad) return { reason: RejectReason.InvalidText, message: bad }
  const ts = checkEventTime(f.ts)
  if (ts) return ts
  return f.payload !== null && typeof f.payload === 'object' ? checkTexts(f.payload as Record<string, unknown>, 'payload.') : null
}
