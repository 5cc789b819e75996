import { awsSecretValid, cardValid, ibanValid, ipv4Valid, ipv6Valid, phoneValid } from './checks.js'

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
  'pem',
  'jwt',
  'aws-key',
  'aws-secret',
  'token',
  'bearer',
  'credential',
  'email',
  'iban',
  'card',
  'ipv6',
  'ipv4',
  'phone',
] as const
export type DetectorName = (typeof DETECTOR_NAMES)[number]

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

export interface DetectorSpec {
  readonly name: string
  readonly description: string
  /** Compiled once per manifest with the `g` flag. If it has a named group `s`, that group is the secret and ends the match. */
  readonly source: string
  readonly flags: string
  readonly feature: number
  readonly validate: Validator | null
  /** When the check fails, retry the candidate cut back at its last separators (' ', '-', '.'): a card or phone number followed by more digit groups. */
  readonly shrink: boolean
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)'
const VERSION_CONTEXT = /(?:^|[^A-Za-z])(?:version|ver|release|build|rev|firmware|fw)\s*[:=]?\s*$/i
/** Digits right after `XX99 ` groups are the body of an IBAN (valid or not), not a card. */
const IBAN_BEFORE = /[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4})* ?$/
const validCard: Validator = (t, s, e) => cardValid(t.slice(s, e)) && !IBAN_BEFORE.test(t.slice(s > 40 ? s - 40 : 0, s))
const validIban: Validator = (t, s, e) => ibanValid(t.slice(s, e))
const validIpv6: Validator = (t, s, e) => ipv6Valid(t.slice(s, e))
const validIpv4: Validator = (t, s, e) => ipv4Valid(t.slice(s, e)) && !VERSION_CONTEXT.test(t.slice(s > 16 ? s - 16 : 0, s))
const validPhone: Validator = (t, s, e) => phoneValid(t.slice(s, e))
const validAwsSecret: Validator = (t, s, e) => awsSecretValid(t.slice(s, e))
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
const NOT_A_CREDENTIAL = /^(?:\*+|x+|null|nil|none|true|false|undefined|redacted|hidden|masked|changed|required|missing|empty|invalid|incorrect|expired|reset|set|ok)$/i
const validCredential: Validator = (t, s, e) => !NOT_A_CREDENTIAL.test(t.slice(s, e))

const CI = (word: string): string => word.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)

export const BUILTIN_DETECTORS: Readonly<Record<DetectorName, DetectorSpec>> = {
  pem: {
    name: 'pem',
    description: 'PEM private key blocks (RSA, EC, OPENSSH, ENCRYPTED, PGP); an unterminated block is masked to the end of the field',
    source: '-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)',
    flags: 'g',
    feature: Feature.Pem,
    validate: null,
    shrink: false,
  },
  jwt: {
    name: 'jwt',
    description: 'JSON Web Tokens (eyJ….eyJ….signature)',
    source: '(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*',
    flags: 'g',
    feature: Feature.Jwt,
    validate: null,
    shrink: false,
  },
  'aws-key': {
    name: 'aws-key',
    description: 'AWS access key ids (AKIA…, ASIA… and the other IAM prefixes)',
    source: '(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])',
    flags: 'g',
    feature: Feature.UpperRun,
    validate: null,
    shrink: false,
  },
  'aws-secret': {
    name: 'aws-secret',
    description: '40-character base64 secrets within 30 characters after a "secret" or "key" marker',
    source: `(?:${CI('secret')}|${CI('key')})[A-Za-z0-9_"' .-]{0,30}?[:=]?\\s*["']?(?<![A-Za-z0-9/+])(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])`,
    flags: 'g',
    feature: Feature.Base64Run,
    validate: validAwsSecret,
    shrink: false,
  },
  token: {
    name: 'token',
    description: 'well-known prefixed API tokens (GitHub, GitLab, Slack, Stripe, Google, npm)',
    source:
      '(?<![A-Za-z0-9_-])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36})(?![A-Za-z0-9_-])',
    flags: 'g',
    feature: Feature.TokenWord,
    validate: null,
    shrink: false,
  },
  bearer: {
    name: 'bearer',
    description: 'bearer tokens after "Bearer " (the word is kept, the token masked)',
    source: `(?<![A-Za-z])${CI('bearer')}\\s+(?<s>[A-Za-z0-9._~+/-]{8,}=*)`,
    flags: 'g',
    feature: Feature.Bearer,
    validate: validBearer,
    shrink: false,
  },
  credential: {
    name: 'credential',
    description: 'values of password=, secret:, token=, api_key= and similar assignments (the key is kept)',
    source:
      '(?<![A-Za-z0-9])(?:password|passwd|passphrase|pwd|pass|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|session[_-]?token|token|private[_-]?key)["\']?\\s*[:=]\\s*["\']?(?<s>[^\\s"\'\\[\\],;&{}<>][^\\s"\',;&{}<>]{0,255})',
    flags: 'gi',
    feature: Feature.CredWord,
    validate: validCredential,
    shrink: false,
  },
  email: {
    name: 'email',
    description: 'email addresses',
    source: '(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])',
    flags: 'g',
    feature: Feature.At,
    validate: null,
    shrink: false,
  },
  iban: {
    name: 'iban',
    description: 'IBANs, compact or in groups of four, checked by country length and mod-97',
    source: '(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])',
    flags: 'g',
    feature: Feature.Iban,
    validate: validIban,
    shrink: true,
  },
  card: {
    name: 'card',
    description: 'payment card numbers (13-19 digits, issuer prefix 2-6, Luhn-checked) standing alone, compact or grouped 4-4-4-4(-3), 4-4-4-1..3, 4-6-4/5',
    source: '(?<![0-9A-Za-z])(?:\\d{4}([ -]?)\\d{4}\\1\\d{4}\\1(?:\\d{4}(?:\\1\\d{1,3})?|\\d{1,3})|\\d{4}([ -]?)\\d{6}\\2\\d{4,5}|\\d{13,19})(?![0-9A-Za-z])',
    flags: 'g',
    feature: Feature.CardRun,
    validate: validCard,
    shrink: true,
  },
  ipv6: {
    name: 'ipv6',
    description: 'IPv6 addresses (full, compressed, with an IPv4 tail)',
    source: '(?<![\\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\\d{1,3}\\.){3}\\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\\w:]|\\.\\w)',
    flags: 'g',
    feature: Feature.Colons,
    validate: validIpv6,
    shrink: false,
  },
  ipv4: {
    name: 'ipv4',
    description: 'IPv4 addresses; dotted quads right after "version", "v", "build" and the like are version numbers',
    source: `(?:(?<=//)|(?<![\\w.\\/]))${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d|-[A-Za-z])`,
    flags: 'g',
    feature: Feature.DotQuad,
    validate: validIpv4,
    shrink: false,
  },
  phone: {
    name: 'phone',
    description: 'phone numbers: international (+CC …), North American ((415) 555-0100, 415-555-0100), or any 7-15 digit number after phone/tel/mobile/fax',
    source:
      '(?<![\\w+])\\+(?:\\d{7,15}|\\d{1,3}(?:[ .-]?\\(\\d{1,4}\\)\\d{0,4}|[ .-]\\d{1,10}){1,6})(?![\\w])' +
      '|(?<![\\w.-])(?:\\(\\d{3}\\) ?|\\d{3}[-. ])\\d{3}[-. ]\\d{4}(?![\\w]|[.-]\\d)' +
      `|(?<![A-Za-z])(?:${CI('phone')}|${CI('tel')}|${CI('mobile')}|${CI('cell')}|${CI('fax')}|${CI('msisdn')})(?:[_ -]?(?:${CI('no')}|${CI('number')}|${CI('num')}))?["']?\\s*[:=#]?\\s*["']?(?<s>\\+?\\(?\\d(?:[ ().-]{0,3}\\d){6,14})`,
    flags: 'g',
    feature: Feature.PhoneRun,
    validate: validPhone,
    shrink: true,
  },
}
