/**
 * Randomness and alphabets for the labelled corpus. This folder shares no code with the
 * detectors (it imports nothing from ../): the formats are written again here, from the
 * providers' public documentation, so the detectors are judged against an independent reading.
 */
export type Rng = () => number

/** xorshift32, seeded: the same seed gives the same corpus. */
export function seeded(seed: number): Rng {
  let x = seed | 0 || 0x9e3779b9
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

export const LOWER = 'abcdefghijklmnopqrstuvwxyz'
export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
export const DIGIT = '0123456789'
export const HEXL = '0123456789abcdef'
export const HEXU = '0123456789ABCDEF'
export const ALNUM = UPPER + LOWER + DIGIT
export const LOWNUM = LOWER + DIGIT
export const UPNUM = UPPER + DIGIT
export const B64STD = ALNUM + '+/'
export const B64URLSAFE = ALNUM + '-_'
export const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

export const one = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
export const between = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
export function draw(r: Rng, alphabet: string, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet.charAt(Math.floor(r() * alphabet.length))
  return s
}
export const hex = (r: Rng, n: number): string => draw(r, HEXL, n)
export const uuid4 = (r: Rng): string => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-${one(r, ['8', '9', 'a', 'b'])}${hex(r, 3)}-${hex(r, 12)}`

/** CRC-32 (IEEE 802.3), bitwise: slow and plain, written for the corpus only. */
export function crc32Plain(s: string): number {
  let crc = 0xffffffff
  for (let i = 0; i < s.length; i++) {
    crc ^= s.charCodeAt(i)
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}
/** Base62 with digits first, left-padded with '0' to `width`. */
export function base62(n: number, width: number): string {
  const a = DIGIT + UPPER + LOWER
  let s = ''
  do {
    s = a[n % 62] + s
    n = Math.floor(n / 62)
  } while (n > 0)
  return s.padStart(width, '0')
}
/** Luhn check digit appended to `partial`. */
export function withLuhn(partial: string): string {
  let sum = 0
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i])
    if (i % 2 === 0) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return partial + String((10 - (sum % 10)) % 10)
}
/** ISO 13616 check digits for country `cc` and BBAN `bban`. */
export function ibanOf(cc: string, bban: string): string {
  const digits = (bban + cc + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55))
  let rem = 0
  for (const ch of digits) rem = (rem * 10 + Number(ch)) % 97
  return `${cc}${String(98 - rem).padStart(2, '0')}${bban}`
}
