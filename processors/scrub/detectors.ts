import { awsSecretValid, base64JwtValid, cardValid, entropy, ibanValid, ipv4Valid, ipv6Valid, isPlaceholder, jwtStructureValid, phoneValid } from './checks.js'
import { locateAssignment } from './generic.js'

/**
 * The built-in free-text detectors, in priority order: where two candidates start at the same
 * place, the earlier detector wins (a JWT after `Bearer ` is reported as `jwt`, a 40-character
 * secret after `secret=` as `aws-secret`, not `credential`).
 *
 * Each matched secret is replaced by its typed placeholder, `[<name>]`, e.g. `[email]`,
 * `[card]`, `[jwt]`; with `action: hash` by `[<name>:hmac:<16 hex>]` (HMAC-SHA-256 under the
 * manifest's key, so equal values stay joinable). Placeholders never match any detector, so
 * scrubbing scrubbed text changes nothing.
 */
export const DETECTOR_NAMES = [
  // secrets whose shape names them, ahead of the provider catalogue
  'pem',
  'jwt',
  'jwt-base64',
  'aws-access-key',
  'aws-secret-key',
  // (the manifest's provider catalogue ranks here)
  'basic-auth',
  'bearer',
  'url-credentials',
  'curl-user',
  'k8s-secret',
  'credential',
  // personal data
  'email',
  'iban',
  'card',
  'ipv6',
  'ipv4',
  'phone',
] as const
export type DetectorName = (typeof DETECTOR_NAMES)[number]
/** Built-ins ranked before the catalogue (the rest rank after it). */
export const BEFORE_CATALOGUE: ReadonlySet<string> = new Set(['pem', 'jwt', 'jwt-base64', 'aws-access-key', 'aws-secret-key'])

/** Prefilter feature bits: one cheap pass over the text sets them (see prefilter.ts). */
export const Feature = {
  At: 1 << 0,
  Colons: 1 << 1,
  DotQuad: 1 << 2,
  CardRun: 1 << 3,
  PhoneRun: 1 << 4,
  Iban: 1 << 5,
  Jwt: 1 << 6,
  UpperRun: 1 << 7,
  Base64Run: 1 << 8,
  Bearer: 1 << 9,
  Pem: 1 << 10,
  CredWord: 1 << 11,
  TokenWord: 1 << 12,
  /** Set for every text: custom detectors without a trigger literal always run. */
  Always: 1 << 13,
  /** Internal to the prefilter: a phone keyword was seen (phone needs it together with a digit run). */
  PhoneWord: 1 << 14,
} as const

/** Candidate validation: `text[start, end)` is the secret. Module-level functions, no closures per fact. */
export type Validator = (text: string, start: number, end: number) => boolean
/**
 * For detectors whose secret is found by code rather than by the regex alone: the regex matched
 * text[matchStart, matchEnd); write the secret's span to out[0], out[1] and return true, or
 * return false. out[2] is where the search resumes (either way).
 */
export type Locator = (text: string, matchStart: number, matchEnd: number, out: Int32Array) => boolean

export interface DetectorSpec {
  readonly name: string
  readonly description: string
  /** Compiled once per manifest with the `g` flag. If it has a named group `s`, that group is the secret and ends the match. */
  readonly source: string
  readonly flags: string
  /** Prefilter feature bits (personal data); 0 for keyword-gated detectors. */
  readonly feature: number
  /** Literal keywords (any case): the detector runs only on text containing one. Empty: gated by `feature`. */
  readonly keywords: readonly string[]
  readonly validate: Validator | null
  readonly locate?: Locator
  /** When the check fails, retry the candidate cut back at its last separators (' ', '-', '.'): a card or phone number followed by more digit groups. */
  readonly shrink: boolean
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'
const VERSION_CONTEXT = /(?:^|[^A-Za-z])(?:version|ver|release|build|rev|firmware|fw)\s*[:=]?\s*$/i
/** Digits right after `XX99 ` groups are the body of an IBAN (valid or not), not a card. */
const IBAN_BEFORE = /[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4})*[ -]?$/
const validCard: Validator = (t, s, e) => cardValid(t.slice(s, e)) && !IBAN_BEFORE.test(t.slice(s > 40 ? s - 40 : 0, s))
const validIban: Validator = (t, s, e) => ibanValid(t.slice(s, e))
const validIpv6: Validator = (t, s, e) => ipv6Valid(t.slice(s, e))
const validIpv4: Validator = (t, s, e) => ipv4Valid(t.slice(s, e)) && !VERSION_CONTEXT.test(t.slice(s > 16 ? s - 16 : 0, s))
const DATE_LIKE = /^\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}$/
const validPhone: Validator = (t, s, e) => {
  const v = t.slice(s, e)
  if (!phoneValid(v)) return false
  const c = v.charCodeAt(0)
  if (c !== 48 && c !== 40) return true
  // national (trunk-prefix) shapes: at least 9 digits, and not a date
  let digits = 0
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) digits++
  return digits >= 9 && !DATE_LIKE.test(v)
}
const AWS_MARKER = /secret|key/i
const validAwsSecret: Validator = (t, s, e) => awsSecretValid(t.slice(s, e)) && AWS_MARKER.test(t.slice(s > 40 ? s - 40 : 0, s)) && !isPlaceholder(t, s, e)
const notPlaceholder: Validator = (t, s, e) => !isPlaceholder(t, s, e)
const validBearer: Validator = (t, s, e) => {
  let digit = false
  let upper = false
  let lower = false
  for (let i = s; i < e; i++) {
    const c = t.charCodeAt(i)
    if (c >= 48 && c <= 57) digit = true
    else if (c >= 65 && c <= 90) upper = true
    else if (c >= 97 && c <= 122) lower = true
  }
  return digit || (upper && lower && e - s >= 16)
}
const validJwt: Validator = (t, s, e) => jwtStructureValid(t, s, e)
const validJwtBase64: Validator = (t, s, e) => base64JwtValid(t, s, e)
/** `Basic <base64>`: the word `basic` followed by a lowercase word is prose, not a credential. */
const validBasic: Validator = (t, s, e) => {
  if (e - s < 8) return false
  const v = t.slice(s, e)
  if (/^[a-z]+$/.test(v)) return false
  const d = Buffer.from(v, 'base64').toString('latin1')
  return d.includes(':') || /[0-9=+/]/.test(v) || (/[A-Z]/.test(v) && /[a-z]/.test(v))
}
const validUserinfo: Validator = (t, s, e) => {
  const v = t.slice(s, e)
  const colon = v.indexOf(':')
  if (colon < 0) return v.length >= 16 && /\d/.test(v) && /[a-zA-Z]/.test(v) && entropy(v) >= 3
  const pass = v.slice(colon + 1)
  return pass.length > 0 && !isPlaceholder(pass)
}
const validCurlUser: Validator = (t, s, e) => {
  const v = t.slice(s, e)
  const colon = v.indexOf(':')
  return colon > 0 && colon < v.length - 1 && !isPlaceholder(v.slice(colon + 1))
}
const K8S_SECRET = /kind["']?[ \t]*:[ \t]*["']?Secret\b/
const K8S_DATA = /(?:^|[\s{,"'])(?:data|stringData)["']?[ \t]*:/
const validK8s: Validator = (t, s, e) => {
  if (e - s < 8 || !K8S_SECRET.test(t)) return false
  const head = t.slice(0, s)
  if (!K8S_DATA.test(head)) return false
  const v = t.slice(s, e)
  return !isPlaceholder(v) && !/^[a-z]+$/.test(v)
}
const CI = (word: string): string => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)
const GENERIC_WORDS = 'pass|pwd|pw(?=[^a-z])|psw|secret|token|key|auth(?!or)|cred|bearer|sig(?:nature)?(?![a-z])|private|pat(?![a-z])|sas(?![a-z])'

export const BUILTIN_DETECTORS: Readonly<Record<DetectorName, DetectorSpec>> = {
  pem: {
    name: 'pem',
    description: 'private key blocks: PEM (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP), PuTTY key files; an unterminated block is masked to the end of the field',
    source:
      '-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)' +
      '|PuTTY-User-Key-File-\\d+:[\\s\\S]*?(?:Private-MAC:[ \\t]*[0-9a-fA-F]+|Private-Hash:[ \\t]*[0-9a-fA-F]+|$)',
    flags: 'g',
    feature: 0,
    keywords: ['-----begin', 'putty-user-key-file'],
    validate: null,
    shrink: false,
  },
  jwt: {
    name: 'jwt',
    description: 'JSON Web Tokens (eyJ….ey….signature), header checked to be a JOSE header',
    source: '(?<![A-Za-z0-9_-])ey[A-Za-z0-9_-]{10,}\\.ey[A-Za-z0-9_-]{6,}\\.[A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]+){0,2}',
    flags: 'g',
    feature: 0,
    keywords: ['eyj', 'eya', 'ewo'],
    validate: validJwt,
    shrink: false,
  },
  'jwt-base64': {
    name: 'jwt-base64',
    description: 'a JWT wrapped in base64 (ZXlK…), as in Kubernetes Secrets and env dumps; decoded and checked',
    source: '(?<![A-Za-z0-9+/])ZXlK[A-Za-z0-9+/]{30,}={0,2}',
    flags: 'g',
    feature: 0,
    keywords: ['zxlk'],
    validate: validJwtBase64,
    shrink: false,
  },
  'aws-access-key': {
    name: 'aws-access-key',
    description: 'AWS access key ids (AKIA…, ASIA… and the other IAM prefixes)',
    source: '(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])',
    flags: 'g',
    feature: 0,
    keywords: ['a3t', 'akia', 'asia', 'agpa', 'aida', 'aroa', 'aipa', 'anpa', 'anva', 'abia', 'acca'],
    validate: notPlaceholder,
    shrink: false,
  },
  'aws-secret-key': {
    name: 'aws-secret-key',
    description: '40-character base64 secrets (mixed case, not hex) within 40 characters after a "secret" or "key" marker',
    source: '(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])',
    flags: 'g',
    feature: 0,
    keywords: ['secret', 'key'],
    validate: validAwsSecret,
    shrink: false,
  },
  'basic-auth': {
    name: 'basic-auth',
    description: 'HTTP Basic credentials after "Basic " (the word is kept, user:password in base64 masked)',
    source: `(?<![A-Za-z])${CI('basic')}[ \\t]+(?<s>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])`,
    flags: 'g',
    feature: 0,
    keywords: ['basic'],
    validate: validBasic,
    shrink: false,
  },
  bearer: {
    name: 'bearer',
    description: 'bearer tokens after "Bearer " (the word is kept, the token masked)',
    source: `(?<![A-Za-z])${CI('bearer')}[ \\t]+(?<s>[A-Za-z0-9._~+/-]{8,}=*)`,
    flags: 'g',
    feature: 0,
    keywords: ['bearer'],
    validate: validBearer,
    shrink: false,
  },
  'url-credentials': {
    name: 'url-credentials',
    description: 'user:password@ (or a token@) in URLs and connection strings: JDBC, MongoDB, Postgres, MySQL, Redis, AMQP, FTP, HTTP…; the user name is masked too',
    source: '(?<=://)(?<s>[^\\s/?#@"\'<>:\\[\\]]{0,128}:[^\\s/?#@"\'<>]{1,256}|[A-Za-z0-9_-]{16,128})(?=@[A-Za-z0-9\\[._-])',
    flags: 'g',
    feature: 0,
    keywords: ['://'],
    validate: validUserinfo,
    shrink: false,
  },
  'curl-user': {
    name: 'curl-user',
    description: 'user:password given to curl, wget and friends (-u, --user, --proxy-user, --http-user)',
    source: '(?<![A-Za-z0-9-])(?:-u|-U|--user|--proxy-user|--http-user|--auth)(?:[ \\t]+|=)["\']?(?<s>[^\\s"\':]{1,128}:[^\\s"\']{1,256})',
    flags: 'g',
    feature: 0,
    keywords: ['-u', '--user', '--proxy-user', '--http-user', '--auth'],
    validate: validCurlUser,
    shrink: false,
  },
  'k8s-secret': {
    name: 'k8s-secret',
    description: 'values under data:/stringData: of a Kubernetes Secret (YAML or JSON)',
    source: '["\']?[A-Za-z0-9_.-]+["\']?[ \\t]*:[ \\t]*["\']?(?<s>[A-Za-z0-9+/]{8,}={0,2})(?=["\']?[ \\t]*(?:,|}|\\r?\\n|$))',
    flags: 'g',
    feature: 0,
    keywords: ['kind: secret', 'kind":"secret', 'kind": "secret', "kind: 'secret", 'kind: "secret'],
    validate: validK8s,
    shrink: false,
  },
  credential: {
    name: 'credential',
    description:
      'values assigned to secret-named keys in any syntax (password=, awsSecretKey := "…", <password>…</password>, setProperty("db.password", "…"), JSON/YAML/TOML/.properties/env/export); placeholders and variable references are kept',
    source: GENERIC_WORDS,
    flags: 'gi',
    feature: 0,
    keywords: ['pass', 'pwd', 'pw', 'psw', 'secret', 'token', 'key', 'auth', 'cred', 'bearer', 'sig', 'private', 'pat', 'sas'],
    validate: null,
    locate: locateAssignment,
    shrink: false,
  },
  email: {
    name: 'email',
    description: 'email addresses',
    source: '(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-])',
    flags: 'g',
    feature: Feature.At,
    keywords: [],
    validate: null,
    shrink: false,
  },
  iban: {
    name: 'iban',
    description: 'IBANs, compact or in groups of four, checked by country length and mod-97',
    source: '(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])',
    flags: 'g',
    feature: Feature.Iban,
    keywords: [],
    validate: validIban,
    shrink: true,
  },
  card: {
    name: 'card',
    description: 'payment card numbers (13-19 digits, issuer prefix 2-6, Luhn-checked) standing alone, compact or grouped 4-4-4-4(-3), 4-4-4-1..3, 4-6-4/5',
    source: '(?<![0-9A-Za-z])(?:\\d{4}([ -]?)\\d{4}\\1\\d{4}\\1(?:\\d{4}(?:\\1\\d{1,3})?|\\d{1,3})|\\d{4}([ -]?)\\d{6}\\2\\d{4,5}|\\d{13,19})(?![0-9A-Za-z])',
    flags: 'g',
    feature: Feature.CardRun,
    keywords: [],
    validate: validCard,
    shrink: true,
  },
  ipv6: {
    name: 'ipv6',
    description: 'IPv6 addresses (full, compressed, with an IPv4 tail)',
    source: '(?<![\\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\\w:]|\\.\\w)',
    flags: 'g',
    feature: Feature.Colons,
    keywords: [],
    validate: validIpv6,
    shrink: false,
  },
  ipv4: {
    name: 'ipv4',
    description: 'IPv4 addresses; dotted quads right after "version", "v", "build" and the like are version numbers',
    source: `(?:(?<=//)|(?<![\\w.\\/]))${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d|-[A-Za-z])`,
    flags: 'g',
    feature: Feature.DotQuad,
    keywords: [],
    validate: validIpv4,
    shrink: false,
  },
  phone: {
    name: 'phone',
    description: 'phone numbers: international (+CC …), North American ((415) 555-0100, 415-555-0100), or any 7-15 digit number after phone/tel/mobile/fax',
    source:
      '(?<![\\w+])\\+(?:\\d{7,15}|\\d{1,3}(?:[ .-]?\\(\\d{1,4}\\)\\d{0,4}|[ .-]\\d{1,10}){1,6})(?![\\w])' +
      '|(?<![\\w.-])(?:\\(\\d{3}\\) ?|\\d{3}[-. ])\\d{3}[-. ]\\d{4}(?![\\w]|[.-]\\d)' +
      // national numbers with a trunk prefix: 020 7946 0958, 01 23 45 67 89, 030/12345678, 03-1234-5678, (02) 9876 5432, (11) 91234-5678
      '|(?<![\\w+.:/-])(?:0\\d{1,4}(?:[ /-]\\d{2,8}){1,4}|\\(0?\\d{1,4}\\)[ ]?\\d{2,5}(?:[ -]\\d{2,5}){1,3})(?![\\w]|[.:/-]\\d)' +
      `|(?<![A-Za-z])(?:${CI('phone')}|${CI('tel')}|${CI('mobile')}|${CI('cell')}|${CI('fax')}|${CI('msisdn')})(?:[_ -]?(?:${CI('no')}|${CI('number')}|${CI('num')}))?["']?\\s*[:=#]?\\s*["']?(?<s>\\+?\\(?\\d(?:[ ().-]{0,3}\\d){6,14})`,
    flags: 'g',
    feature: Feature.PhoneRun,
    // gated by either: the feature bits (shapes) or one of these words (keyword-led numbers)
    keywords: ['phone', 'tel', 'mobile', 'cell', 'fax', 'msisdn'],
    validate: validPhone,
    shrink: true,
  },
}
