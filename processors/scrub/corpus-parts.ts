import type { DetectorName } from './detectors.js'
import { luhnValid } from './checks.js'

/** Building blocks of the generated corpus: the PRNG, log headers, filler and value generators (corpus-kinds.ts turns them into labelled clauses). */

/** Deterministic PRNG (mulberry32). */
export type Rng = () => number
export function rngFrom(seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A piece of a line: plain text, a labelled secret, or a labelled hard negative. */
export type Part = string | { readonly secret: DetectorName; readonly text: string } | { readonly negative: string; readonly text: string }


/** A digit string of `len` digits starting with `prefix`, made Luhn-valid (or invalid) on purpose. */
export function cardNumber(rng: Rng, prefix: string, len: number, valid: boolean): string {
  let s = prefix
  while (s.length < len - 1) s += String(Math.floor(rng() * 10))
  for (let d = 0; d < 10; d++) {
    const c = s + d
    if (luhnValid(c) === valid) return c
  }
  return s + '0'
}


export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]
export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
export const chars = (rng: Rng, alphabet: string, n: number): string => {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng() * alphabet.length)]
  return s
}
export const DIGITS = '0123456789'
export const HEX = '0123456789abcdef'
export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
export const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
export const B64 = ALNUM + '+/'
export const B64URL = ALNUM + '-_'
export const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
export const S = (secret: DetectorName, text: string): Part => ({ secret, text })
export const N = (negative: string, text: string): Part => ({ negative, text })

const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter', 'zoë']
const LAST = ['smith', 'jones', 'garcia', 'müller', 'nguyen', 'okafor', 'kowalski', 'rossi', 'dubois', 'tanaka']
const DOMAINS = ['acme.io', 'corp.example.net', 'mail.globex.com', 'initech.co.uk', 'umbrella-health.de', 'hooli.dev', 'stark.industries', 'wayne-ent.org']
const COMPONENTS = ['auth', 'api', 'billing', 'gateway', 'worker', 'scheduler', 'ingest', 'payments', 'k8s', 'sshd', 'nginx', 'db']
const LEVELS = ['INFO', 'WARN', 'ERROR', 'DEBUG', 'info', 'warn', 'error']

export function isoTs(rng: Rng): string {
  return `2025-${pad(int(rng, 1, 12))}-${pad(int(rng, 1, 28))}T${pad(int(rng, 0, 23))}:${pad(int(rng, 0, 59))}:${pad(int(rng, 0, 59))}.${pad(int(rng, 0, 999), 3)}Z`
}
export const uuid = (rng: Rng): string => `${chars(rng, HEX, 8)}-${chars(rng, HEX, 4)}-4${chars(rng, HEX, 3)}-${pick(rng, ['8', '9', 'a', 'b'])}${chars(rng, HEX, 3)}-${chars(rng, HEX, 12)}`

/** Log line prefixes: ISO/syslog/klog/JSON styles. Their timestamps are hard negatives too. */
export function header(rng: Rng): Part[] {
  const comp = pick(rng, COMPONENTS)
  switch (int(rng, 0, 3)) {
    case 0:
      return [N('timestamp', isoTs(rng)), ` ${pick(rng, LEVELS)} ${comp}: `]
    case 1:
      return [`Mar ${pad(int(rng, 1, 28))} `, N('time', `${pad(int(rng, 0, 23))}:${pad(int(rng, 0, 59))}:${pad(int(rng, 0, 59))}`), ` web-${int(rng, 1, 40)} ${comp}[${int(rng, 100, 65000)}]: `]
    case 2:
      return [`I${pad(int(rng, 1, 12))}${pad(int(rng, 1, 28))} `, N('time', `${pad(int(rng, 0, 23))}:${pad(int(rng, 0, 59))}:${pad(int(rng, 0, 59))}.${pad(int(rng, 0, 999999), 6)}`), ` 1 ${comp}.go:${int(rng, 10, 900)}] `]
    default:
      return ['ts=', N('epoch-ms', String(int(rng, 1_700_000_000, 1_790_000_000)) + pad(int(rng, 0, 999), 3)), ` level=${pick(rng, LEVELS).toLowerCase()} component=${comp} msg=`]
  }
}

const FILLER = [
  'request completed',
  'cache warmed in 35ms',
  'retrying after backoff 250ms',
  'connection pool size=32 idle=7',
  'GC pause 12.4ms heap=512MiB',
  'reconciled 14 objects',
  'health check ok',
  'queue depth 1024',
  'shutting down gracefully',
  'user not found',
  'rate limit exceeded for route /api/v2/orders',
]
export const filler = (rng: Rng): string => pick(rng, FILLER)

export function email(rng: Rng): string {
  const f = pick(rng, FIRST).replace('ü', 'u').replace('ë', 'e')
  const l = pick(rng, LAST).replace('ü', 'ue')
  const local = pick(rng, [`${f}.${l}`, `${f}_${l}`, `${f}${int(rng, 1, 99)}`, `${f[0]}${l}+${pick(rng, ['alerts', 'test', 'ops'])}`, `${f}.${l}-${int(rng, 1, 9)}`])
  return `${local}@${pick(rng, DOMAINS)}`
}
export function ipv4(rng: Rng): string {
  switch (int(rng, 0, 3)) {
    case 0:
      return `10.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`
    case 1:
      return `192.168.${int(rng, 0, 255)}.${int(rng, 1, 254)}`
    case 2:
      return `172.${int(rng, 16, 31)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`
    default:
      return `${int(rng, 11, 223)}.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`
  }
}
export function ipv6(rng: Rng): string {
  const grp = (): string => chars(rng, HEX, int(rng, 1, 4)).replace(/^0+(?=.)/, '')
  switch (int(rng, 0, 4)) {
    case 0:
      return Array.from({ length: 8 }, () => chars(rng, HEX, 4)).join(':')
    case 1:
      return `2001:db8:${grp()}::${grp()}:${grp()}`
    case 2:
      return `fe80::${grp()}:${grp()}:${grp()}:${grp()}`
    case 3:
      return `::ffff:${ipv4(rng)}`
    default:
      return `2a02:${grp()}:${grp()}:${grp()}::${grp()}`
  }
}
export function card(rng: Rng): string {
  const [prefix, len] = pick(rng, [['4', 16], ['4', 13], ['51', 16], ['55', 16], ['2221', 16], ['34', 15], ['37', 15], ['6011', 16], ['35', 16], ['36', 14], ['62', 19]] as const)
  const n = cardNumber(rng, prefix, len, true)
  const sep = pick(rng, ['', '', ' ', '-'])
  if (sep === '') return n
  if (len === 15) return `${n.slice(0, 4)}${sep}${n.slice(4, 10)}${sep}${n.slice(10)}`
  if (len === 14) return `${n.slice(0, 4)}${sep}${n.slice(4, 10)}${sep}${n.slice(10)}`
  return n.match(/.{1,4}/g)!.join(sep)
}
const IBAN_FORMATS: ReadonlyArray<readonly [string, number, (rng: Rng) => string]> = [
  ['DE', 22, (r) => chars(r, DIGITS, 18)],
  ['GB', 22, (r) => chars(r, UPPER, 4) + chars(r, DIGITS, 14)],
  ['FR', 27, (r) => chars(r, DIGITS, 10) + chars(r, ALNUM.slice(0, 26) + DIGITS, 11) + chars(r, DIGITS, 2)],
  ['NL', 18, (r) => chars(r, UPPER, 4) + chars(r, DIGITS, 10)],
  ['ES', 24, (r) => chars(r, DIGITS, 20)],
  ['IT', 27, (r) => chars(r, UPPER, 1) + chars(r, DIGITS, 10) + chars(r, DIGITS, 12)],
  ['CH', 21, (r) => chars(r, DIGITS, 17)],
]
export function mod97(s: string): number {
  let rem = 0
  for (const ch of s) rem = ch >= 'A' && ch <= 'Z' ? (rem * 100 + ch.charCodeAt(0) - 55) % 97 : (rem * 10 + Number(ch)) % 97
  return rem
}
export function iban(rng: Rng, valid = true): string {
  const [cc, , bban] = pick(rng, IBAN_FORMATS)
  const b = bban(rng)
  let check = 98 - mod97(b + cc + '00')
  if (!valid) check = ((check + int(rng, 1, 90)) % 97) + 2
  const compact = `${cc}${pad(check)}${b}`
  return rng() < 0.5 ? compact : compact.match(/.{1,4}/g)!.join(' ')
}
export function phone(rng: Rng): string {
  const a = int(rng, 201, 989)
  const b = int(rng, 200, 999)
  const c = pad(int(rng, 0, 9999), 4)
  return pick(rng, [
    `+1 ${a} ${b} ${c}`,
    `+1${a}${b}${c}`,
    `(${a}) ${b}-${c}`,
    `${a}-${b}-${c}`,
    `${a}.${b}.${c}`,
    `+1-${a}-${b}-${c}`,
    `+44 20 ${int(rng, 7000, 8999)} ${c}`,
    `+49 30 ${int(rng, 1000000, 9999999)}`,
    `+49 (0)30 ${int(rng, 100000, 999999)}`,
    `+33 1 ${pad(int(rng, 10, 99))} ${pad(int(rng, 10, 99))} ${pad(int(rng, 10, 99))} ${pad(int(rng, 10, 99))}`,
    `+91 ${int(rng, 70000, 99999)} ${int(rng, 10000, 99999)}`,
  ])
}
const b64url = (rng: Rng, s: string): string => Buffer.from(s).toString('base64url')
export function jwt(rng: Rng): string {
  const header = b64url(rng, JSON.stringify({ alg: pick(rng, ['HS256', 'RS256', 'ES256']), typ: 'JWT' }))
  const payload = b64url(rng, JSON.stringify({ sub: String(int(rng, 1, 1e6)), iat: int(rng, 1.7e9, 1.8e9), scope: pick(rng, ['read', 'write admin', 'openid profile']) }))
  return `${header}.${payload}.${chars(rng, B64URL, pick(rng, [43, 86, 342]))}`
}
export const awsKey = (rng: Rng): string => pick(rng, ['AKIA', 'ASIA', 'AROA', 'AIDA']) + chars(rng, UPPER + '234567', 16)
export function awsSecret(rng: Rng): string {
  for (;;) {
    const s = chars(rng, B64, 40)
    if (/[A-Z]/.test(s) && /[a-z]/.test(s)) return s
  }
}
export function pem(rng: Rng): string {
  const label = pick(rng, ['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'])
  const nl = pick(rng, ['\n', '\\n'])
  const body = Array.from({ length: int(rng, 2, 6) }, () => chars(rng, B64, 64)).join(nl)
  return `-----BEGIN ${label}-----${nl}${body}${nl}-----END ${label}-----`
}
export function apiToken(rng: Rng): string {
  return pick(rng, [
    `ghp_${chars(rng, ALNUM, 36)}`,
    `gho_${chars(rng, ALNUM, 36)}`,
    `github_pat_${chars(rng, ALNUM, 22)}_${chars(rng, ALNUM, 59)}`,
    `glpat-${chars(rng, ALNUM + '-_', 20)}`,
    `xoxb-${chars(rng, DIGITS, 12)}-${chars(rng, DIGITS, 13)}-${chars(rng, ALNUM, 24)}`,
    `sk_live_${chars(rng, ALNUM, 24)}`,
    `AIza${chars(rng, ALNUM + '-_', 35)}`,
    `npm_${chars(rng, ALNUM, 36)}`,
  ])
}
export function opaque(rng: Rng): string {
  return pick(rng, [chars(rng, ALNUM, 32), `${chars(rng, ALNUM, 20)}.${chars(rng, ALNUM + '-_', 24)}`, chars(rng, HEX, 40), `${chars(rng, ALNUM, 24)}~${chars(rng, ALNUM, 8)}`])
}
export function password(rng: Rng): string {
  return pick(rng, ['hunter2', 'Tr0ub4dor&3', 'correct-horse-battery', 'P@ssw0rd!', 'S3cr3tVal', 'letmein2024', chars(rng, ALNUM + '!#$%', 14)])
}
