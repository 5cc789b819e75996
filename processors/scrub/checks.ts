/**
 * Checksums and structural validators used to confirm detector candidates. Pure, allocation-free
 * where possible: they run only on regex candidates, never on clean text.
 */
import { crc32Ascii } from '../../schemas/crc32.js'

/** Luhn (mod 10) over the digits of `s`, ignoring any non-digit separator. */
export function luhnValid(s: string): boolean {
  let sum = 0
  let double = false
  let digits = 0
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) continue
    digits++
    let d = c
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return digits > 0 && sum % 10 === 0
}

/** A payment card: 13-19 digits, Luhn-valid, issuer prefix 2-6 (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro), or a 15-digit UATP card (prefix 1). */
export function cardValid(s: string): boolean {
  let first = -1
  let digits = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) continue
    if (first < 0) first = c
    digits++
  }
  if (digits < 13 || digits > 19 || first > 6 || first === 0 || (first === 1 && digits !== 15)) return false
  return luhnValid(s)
}

/** IBAN lengths by country (ISO 13616 registry). */
const IBAN_LENGTH: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SC: 31,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
}

/** IBAN: known country, the country's length, ISO 7064 mod-97 = 1. Spaces and dashes are ignored. */
export function ibanValid(s: string): boolean {
  let compact = ''
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 32 && s.charCodeAt(i) !== 45) compact += s[i]
  const len = IBAN_LENGTH[compact.slice(0, 2)]
  if (len === undefined || compact.length !== len) return false
  const rearranged = compact.slice(4) + compact.slice(0, 4)
  let rem = 0
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i)
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97
    else return false
  }
  return rem === 1
}

/** IPv6 text form (RFC 4291 §2.2): 8 groups, or fewer with exactly one `::`, optional dotted IPv4 tail. */
export function ipv6Valid(s: string): boolean {
  const dbl = s.indexOf('::')
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false
  const head = dbl >= 0 ? s.slice(0, dbl) : s
  const tail = dbl >= 0 ? s.slice(dbl + 2) : ''
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  let groups = 0
  for (let i = 0; i < h.length; i++) {
    const w = groupWidth(h[i], dbl < 0 && i === h.length - 1)
    if (w === 0) return false
    groups += w
  }
  for (let i = 0; i < t.length; i++) {
    const w = groupWidth(t[i], i === t.length - 1)
    if (w === 0) return false
    groups += w
  }
  return dbl < 0 ? groups === 8 : groups >= 1 && groups <= 7
}

/** 1 for a 1-4 digit hex group, 2 for a trailing dotted IPv4, 0 when invalid. */
function groupWidth(part: string, isLast: boolean): number {
  if (isLast && part.indexOf('.') >= 0) return ipv4Valid(part) ? 2 : 0
  if (part.length === 0 || part.length > 4) return 0
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return 0
  }
  return 1
}

/** Dotted-quad IPv4 with octets 0-255 and no leading zeros. */
export function ipv4Valid(s: string): boolean {
  let parts = 0
  let val = 0
  let len = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46
    if (c === 46) {
      if (len === 0 || val > 255) return false
      parts++
      val = 0
      len = 0
    } else if (c >= 48 && c <= 57) {
      if (len > 0 && val === 0) return false // leading zero
      val = val * 10 + (c - 48)
      if (++len > 3) return false
    } else return false
  }
  return parts === 4
}

/** 8-15 digits (E.164 bounds plus national trunk prefixes). */
export function phoneValid(s: string): boolean {
  let digits = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) digits++
  }
  return digits >= 7 && digits <= 15
}

/** A cloud secret: mixed case base64, not a hex digest (SHA-1 and friends are 40 hex characters too). */
export function awsSecretValid(s: string): boolean {
  let upper = false
  let lower = false
  let nonHex = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 65 && c <= 90) {
      upper = true
      if (c > 70) nonHex = true
    } else if (c >= 97 && c <= 122) {
      lower = true
      if (c > 102) nonHex = true
    } else if (c === 43 || c === 47) nonHex = true
  }
  return upper && lower && nonHex
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/**
 * GitHub-style checksummed token (GitHub `gh?_`, npm `npm_`): after the prefix, 30 random
 * base62 characters and 6 characters of base62 CRC-32 of those 30, zero-padded.
 */
export function crc32TokenValid(s: string, prefixLength: number): boolean {
  const body = s.length - prefixLength
  if (body !== 36) return false
  let n = crc32Ascii(s, prefixLength, prefixLength + 30)
  let enc = ''
  while (n > 0) {
    enc = BASE62[n % 62] + enc
    n = Math.floor(n / 62)
  }
  return enc.padStart(6, '0') === s.slice(prefixLength + 30)
}

const ENTROPY_COUNTS = new Int32Array(65536)

/** Shannon entropy of s[start, end) in bits per character (scratch counts, no allocation). */
export function entropy(s: string, start = 0, end = s.length): number {
  const n = end - start
  if (n <= 0) return 0
  const counts = ENTROPY_COUNTS
  for (let i = start; i < end; i++) counts[s.charCodeAt(i)]++
  let h = 0
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    const k = counts[c]
    if (k === 0) continue
    const p = k / n
    h -= p * Math.log2(p)
    counts[c] = 0
  }
  return h
}

const PLACEHOLDER_WORDS =
  /example|sample|placeholder|changeme|change_me|change-me|your[_-]?(?:api|secret|token|key|pass|own|access|client)|yourkey|yoursecret|redacted|dummy|xxxxx|\*\*\*|<[a-z _-]*>|insert[_-]?(?:here|your)|_here\b|replace[_-]?me|not[_-]?a[_-]?(?:real|secret)|foobar|lorem|\.\.\./i
const VARIABLE_REF =
  /^(?:\$\{|\$\(|\$[A-Za-z_]|%[A-Za-z_(][^%]*%?|\{\{|\{%|#\{|@\{|<%|\[\[|env[.:([]|process\.env|os\.(?:environ|getenv)|getenv|var\.|vars\.|local\.|secrets?\.|config\.|settings\.|params?\.|props?\.|this\.|self\.|ENV\[|System\.getenv|vault:|ref\+|!Ref|arn:|projects\/[^/]+\/secrets)/i

/**
 * A value that stands for a secret rather than being one: a variable or template reference
 * (`${DB_PASSWORD}`, `process.env.X`, `{{ .Values.x }}`, `var.db_password`), an obvious
 * placeholder (`xxxx…`, `<your-key>`, `…EXAMPLE`, `changeme`), or a run of one character.
 */
export function isPlaceholder(s: string, start = 0, end = s.length): boolean {
  const v = start === 0 && end === s.length ? s : s.slice(start, end)
  if (v.length === 0) return true
  if (VARIABLE_REF.test(v) || PLACEHOLDER_WORDS.test(v)) return true
  // mostly one character (xxxxxxxx, ********, 00000000, aaaa…)
  const first = v.charCodeAt(0)
  let same = 0
  let xs = 0
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c === first) same++
    if (c === 120 || c === 88 || c === 42 || c === 46 || c === 35) xs++
  }
  if (same * 10 >= v.length * 8 || xs * 10 >= v.length * 6) return true
  // an upper-case environment variable name (DB_PASSWORD, GITHUB_TOKEN)
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(v) && /PASS|SECRET|TOKEN|KEY|AUTH|CRED|PWD/.test(v)) return true
  return false
}

/** A JWT: base64url header that decodes to a JSON object naming `alg`, `typ`, `enc` or `kid`. */
export function jwtStructureValid(s: string, start = 0, end = s.length): boolean {
  const dot = s.indexOf('.', start)
  if (dot < 0 || dot >= end) return false
  try {
    const header = Buffer.from(s.slice(start, dot), 'base64url').toString('latin1')
    return header.charCodeAt(0) === 123 && /"(?:alg|typ|enc|kid|cty)"/.test(header)
  } catch {
    return false
  }
}

/** Base64 text that decodes to a JWT (a JWT wrapped once more in base64, as in k8s Secrets or env dumps). */
export function base64JwtValid(s: string, start = 0, end = s.length): boolean {
  const text = Buffer.from(s.slice(start, end), 'base64').toString('latin1')
  const m = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/.exec(text)
  return m !== null && jwtStructureValid(text, 0, m[0].length)
}
