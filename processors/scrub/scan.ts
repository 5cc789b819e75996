import { createHmac } from 'node:crypto'
import type { Locator, Validator } from './detectors.js'
import { scanKeywords, type KeywordIndex } from './keywords.js'
import { features } from './prefilter.js'

/** A detector compiled for one manifest: its regex, checks and allow-list, built once at load. */
export interface DetectorRuntime {
  readonly name: string
  /** Position in the engine's list = priority (lower wins when two candidates start together). */
  readonly rank: number
  /** Prefilter feature bits (0 when gated by keywords only; a detector with both runs when either says so). */
  readonly feature: number
  /** Literal keywords (any case) of which one must occur for the regex to run; empty: gated by `feature`. */
  readonly keywords: readonly string[]
  /** Global regex; when it has a named group `s`, that group is the secret and ends the match. */
  readonly re: RegExp
  readonly validate: Validator | null
  /** Finds the secret from a regex match by code (generic assignments). */
  readonly locate: Locator | null
  /** Checksum or structure check that marks a finding verified (never gates). */
  readonly verify: Validator | null
  readonly shrink: boolean
  readonly hash: boolean
  readonly placeholder: string
  readonly allowExact: ReadonlySet<string> | null
  /** Anchored, non-global: tested against the matched value. */
  readonly allowRe: RegExp | null
}

export interface Engine {
  readonly detectors: readonly DetectorRuntime[]
  /** false runs every detector on every text (for benchmarks and diagnostics). */
  readonly prefilter: boolean
  /** Aho-Corasick automaton over every detector's keywords (bit d = detector d). */
  readonly keywordIndex: KeywordIndex
  /** 1 where detector d is gated by keywords. */
  readonly keywordGated: Int32Array
  /** Shorter texts are not scanned (nothing a built-in detector masks is shorter than 3 characters, `1::`; 1 with custom detectors). */
  readonly minScan: number
  /** Detectors not gated by keywords (checked against the feature bits), in rank order. */
  readonly featureGated: Int32Array
  readonly hmacKey: Buffer | null
  /** value → hmac16: user ids and addresses repeat, and one HMAC costs ~1.5 µs. Bounded, cleared when full. */
  readonly hmacCache: Map<string, string>
  /** value → what the `hash` field rule writes for it (text.ts): user ids repeat. Bounded, cleared when full. */
  readonly hashedValues: Map<string, string>
  /**
   * Short texts in which no detector found anything: attr and label values, event types and
   * metric names repeat (GET, 200, app.log, a host name), so a repeat costs one Set lookup
   * instead of a scan. Findings depend on the text alone, so the cache changes nothing but time.
   * Bounded, cleared when full.
   */
  readonly cleanCache: Set<string>
  /**
   * Short texts in which a detector found something, and what redactText made of them: the same
   * reasoning as `cleanCache` (the outcome depends on the text and this engine alone), for the
   * values that do hold something (a login line with its user's address, a client IP), so a repeat
   * costs one lookup instead of the scan, the detectors' regexes and the placeholders' strings.
   * Bounded, cleared when full.
   */
  readonly redactedCache: Map<string, Redacted>
  /** Every placeholder this manifest writes (`[credential]`, `[redacted]`…), hash forms by their `[name:` head. */
  readonly placeholders: ReadonlySet<string>
}

/** A short text's redacted form, and the rank of the detector behind each replacement, in order (redactText counts them again on a repeat). */
export interface Redacted {
  readonly text: string
  readonly ranks: Int32Array
}

/** Longest text remembered as clean (longer ones rarely repeat: they carry ids and numbers). */
export const CLEAN_CACHE_MAX_LENGTH = 64
const CLEAN_CACHE_LIMIT = 8192
const REDACTED_CACHE_LIMIT = 8192

const HMAC_CACHE_LIMIT = 8192

/** hmac16 under the engine's key, memoised (same key, same value, same output: the cache changes nothing but time). */
export function keyedHash(engine: Engine, value: string): string {
  let h = engine.hmacCache.get(value)
  if (h === undefined) {
    h = hmac16(engine.hmacKey as Buffer, value)
    if (engine.hmacCache.size >= HMAC_CACHE_LIMIT) engine.hmacCache.clear()
    engine.hmacCache.set(value, h)
  }
  return h
}

export interface Finding {
  readonly detector: string
  readonly start: number
  readonly end: number
  /** The format's checksum or structure check passed (GitHub/npm CRC-32, JWT header…). */
  readonly verified?: boolean
}

// Scratch space for candidates. `step` is synchronous and never re-entered, so one set per
// process is enough and the hot path allocates nothing for clean text.
const cs: number[] = []
const ce: number[] = []
const cd: number[] = []
const order: number[] = []
const loc = new Int32Array(3)
let hits = new Int32Array(16)
/** Some bit of `hits` may be set (a scan stopped before clearing them, e.g. a detector threw). */
let hitsDirty = false
const byStartThenRank = (a: number, b: number): number => cs[a] - cs[b] || cd[a] - cd[b] || ce[b] - ce[a]
/** Up to this many candidates are ordered by insertion (the rest by Array.prototype.sort: no quadratic worst case). */
const INSERTION_SORT_MAX = 32
/** Candidate a comes before b: earlier start, then higher rank (lower index), then the longer one. */
const before = (a: number, b: number): boolean => cs[a] < cs[b] || (cs[a] === cs[b] && (cd[a] < cd[b] || (cd[a] === cd[b] && ce[a] > ce[b])))

const HMAC_BEFORE = /hmac:[0-9a-f]{0,16}$/

/** Candidates that start inside our own `hmac:<hex>` output (field hashes, `[x:hmac:…]`) are never re-redacted. */
function insideHmac(text: string, start: number): boolean {
  if (start < 5) return false
  return HMAC_BEFORE.test(text.slice(start > 21 ? start - 21 : 0, start))
}

const HASHED_PLACEHOLDER = /^\[[a-z][a-z0-9-]*:hmac:[0-9a-f]{16}\]$/

/**
 * A candidate that starts at one of our own placeholders (`password=[credential]` scanned
 * again) is never re-redacted: masking `[credential` would add a `]` at every pass, so the value
 * would never settle.
 */
function atPlaceholder(engine: Engine, text: string, start: number): boolean {
  if (text.charCodeAt(start) !== 91) return false
  const close = text.indexOf(']', start + 1)
  if (close < 0 || close - start > 80) return false
  const token = text.slice(start, close + 1)
  if (engine.placeholders.has(token)) return true
  const colon = token.indexOf(':')
  return colon > 0 && engine.placeholders.has(token.slice(0, colon + 1)) && HASHED_PLACEHOLDER.test(token)
}

/** HMAC-SHA-256 under the manifest key, first 16 hex digits. */
export function hmac16(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16)
}

/** The candidate cut back at one of its last three separators so that it passes the check, or -1. */
function shrunk(validate: Validator, text: string, start: number, end: number): number {
  let e = end
  for (let tries = 0; tries < 3; tries++) {
    let i = e - 1
    while (i > start) {
      const c = text.charCodeAt(i)
      if (c === 32 || c === 45 || c === 46) break
      i--
    }
    if (i <= start) return -1
    e = i
    if (validate(text, start, e)) return e
  }
  return -1
}

/** Finds candidates in `text`; returns how many are in the scratch arrays (in detector order). */

function collect(engine: Engine, text: string): number {
  const dets = engine.detectors
  let n = 0
  if (!engine.prefilter) {
    for (let d = 0; d < dets.length; d++) n = run(engine, d, text, n)
  } else {
    if (text.length < engine.minScan) return 0
    const ix = engine.keywordIndex
    if (hits.length < ix.words) hits = new Int32Array(ix.words)
    else if (hitsDirty) hits.fill(0)
    // keyword hits (bit d = detector d; `hits` is all zero here) and the shape features
    const keyword = scanKeywords(ix, text, hits)
    const feats = features(text)
    // keyword-gated detectors: only those whose bit the automaton set
    if (keyword) {
      hitsDirty = true
      for (let w = 0; w < ix.words; w++) {
        let bits = hits[w]
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits)
          bits &= bits - 1
          n = run(engine, (w << 5) + b, text, n)
        }
      }
    }
    // the others (personal data, untriggered custom detectors): by feature bits
    const other = engine.featureGated
    for (let i = 0; i < other.length; i++) {
      const d = other[i]
      if ((feats & dets[d].feature) !== 0 && (!keyword || (hits[d >>> 5] & (1 << (d & 31))) === 0)) n = run(engine, d, text, n)
    }
    if (keyword) {
      hits.fill(0, 0, ix.words)
      hitsDirty = false
    }
  }
  if (n > INSERTION_SORT_MAX) {
    order.length = n
    for (let i = 0; i < n; i++) order[i] = i
    order.sort(byStartThenRank)
  } else if (n > 1) {
    // insertion sort: a handful of candidates, mostly in order already (Array.prototype.sort
    // with a comparator costs more than the whole scan of a short line)
    for (let i = 0; i < n; i++) {
      let j = i
      while (j > 0 && before(i, order[j - 1])) {
        order[j] = order[j - 1]
        j--
      }
      order[j] = i
    }
  } else if (n === 1) {
    order[0] = 0
  }
  return n
}

/** Runs detector `d` over `text`, appending its candidates to the scratch arrays from index n; returns the new count. */
function run(engine: Engine, d: number, text: string, n: number): number {
  const det = engine.detectors[d]
  {
    const re = det.re
    re.lastIndex = 0
    let m: RegExpExecArray | null
    while ((m = re.exec(text)) !== null) {
      const whole = m[0].length
      if (whole === 0) {
        re.lastIndex++
        continue
      }
      let start: number
      let end: number
      if (det.locate !== null) {
        const ok = det.locate(text, m.index, m.index + whole, loc)
        re.lastIndex = loc[2] > m.index + whole ? loc[2] : m.index + whole
        if (!ok) continue
        start = loc[0]
        end = loc[1]
        if (start >= end || insideHmac(text, start) || atPlaceholder(engine, text, start)) continue
      } else {
        end = m.index + whole
        const secret = m.groups?.s
        start = secret !== undefined ? end - secret.length : m.index
        if (start === end || insideHmac(text, start) || atPlaceholder(engine, text, start)) continue
        if (det.validate !== null && !det.validate(text, start, end)) {
          const cut = det.shrink ? shrunk(det.validate, text, start, end) : -1
          if (cut < 0) {
            // a failed check may hide a valid candidate that overlaps it: retry one character on
            re.lastIndex = m.index + 1
            continue
          }
          end = cut
          re.lastIndex = cut
        }
      }
      if (det.allowExact !== null || det.allowRe !== null) {
        const value = text.slice(start, end)
        if (det.allowExact?.has(value) || det.allowRe?.test(value)) continue
      }
      cs[n] = start
      ce[n] = end
      cd[n] = d
      n++
    }
  }
  return n
}

/**
 * The lowest and highest detector rank redactText has counted since the scrub last handed its
 * counts on (text.ts `flush`, which resets this): an engine has hundreds of detectors and a text
 * redacts a few, so the flush looks at this range, not at every count. Synchronous use only, as
 * the scratch arrays above.
 */
export const countedRanks = { lo: 0x7fffffff, hi: -1 }

/**
 * Replaces every detected secret in `text` by its placeholder and adds one to `counts[rank]`
 * per replacement. Returns the very same string when nothing was found (callers compare with
 * `===`). Overlapping candidates are merged: the earliest (then highest-priority) one names the
 * placeholder, and the masked span grows to cover the others, so no part of a secret survives.
 */
export function redactText(engine: Engine, text: string, counts: Int32Array): string {
  const short = text.length <= CLEAN_CACHE_MAX_LENGTH
  if (short) {
    if (engine.cleanCache.has(text)) return text
    const seen = engine.redactedCache.get(text)
    if (seen !== undefined) {
      const ranks = seen.ranks
      for (let j = 0; j < ranks.length; j++) count(counts, ranks[j])
      return seen.text
    }
  }
  const n = collect(engine, text)
  if (n === 0) {
    if (short) {
      if (engine.cleanCache.size >= CLEAN_CACHE_LIMIT) engine.cleanCache.clear()
      engine.cleanCache.add(text)
    }
    return text
  }
  const dets = engine.detectors
  let out = ''
  let last = 0
  let i = 0
  let replaced = 0
  while (i < n) {
    const k = order[i++]
    const s = cs[k]
    let e = ce[k]
    if (s < last) continue // inside a span already replaced (its end was extended below)
    // extend over every candidate that starts inside this one
    while (i < n && cs[order[i]] < e) {
      const e2 = ce[order[i]]
      if (e2 > e) e = e2
      i++
    }
    const det = dets[cd[k]]
    out += text.slice(last, s)
    out += det.hash && engine.hmacKey !== null ? `[${det.name}:hmac:${keyedHash(engine, text.slice(s, ce[k]))}]` : det.placeholder
    count(counts, det.rank)
    replacedRanks[replaced++] = det.rank
    last = e
  }
  out += text.slice(last)
  if (short) {
    if (engine.redactedCache.size >= REDACTED_CACHE_LIMIT) engine.redactedCache.clear()
    engine.redactedCache.set(text, { text: out, ranks: Int32Array.from(replacedRanks.slice(0, replaced)) })
  }
  return out
}

/** The ranks of the replacements redactText made in the text at hand (scratch, as the candidates). */
const replacedRanks: number[] = []

/** One replacement by the detector of this rank: its count, and the range of ranks counted (countedRanks). */
function count(counts: Int32Array, rank: number): void {
  counts[rank]++
  if (rank < countedRanks.lo) countedRanks.lo = rank
  if (rank > countedRanks.hi) countedRanks.hi = rank
}

/** What the detectors find in `text`, after overlaps are merged. For reports and tests, not the hot path. */
export function findSecrets(engine: Engine, text: string): Finding[] {
  const n = collect(engine, text)
  const found: Finding[] = []
  let last = 0
  let i = 0
  while (i < n) {
    const k = order[i++]
    const s = cs[k]
    let e = ce[k]
    if (s < last) continue
    while (i < n && cs[order[i]] < e) {
      const e2 = ce[order[i]]
      if (e2 > e) e = e2
      i++
    }
    const det = engine.detectors[cd[k]]
    const f: Finding = det.verify !== null ? { detector: det.name, start: s, end: e, verified: det.verify(text, s, ce[k]) } : { detector: det.name, start: s, end: e }
    found.push(f)
    last = e
  }
  return found
}
