import type { SecretKind } from './options.js'
import type { Rng } from './prng.js'

/**
 * Fake but well-formed secrets for the secret-leak scenario: each has the shape Ben's scrub
 * detectors look for (AWS key id + secret, JWT, PEM private key block, Luhn-valid card), and
 * each is generated from the seed, so a test knows the exact strings to hunt for downstream.
 */

const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const chars = (rng: Rng, alphabet: string, n: number): string => {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)]
  return s
}

export const awsAccessKeyId = (rng: Rng): string => `AKIA${chars(rng, UPPER32, 16)}`

/** 40 base64 characters with upper and lower case and a non-hex letter (what an AWS secret looks like). */
export function awsSecretKey(rng: Rng): string {
  for (;;) {
    const s = chars(rng, B64, 40)
    if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /[G-Zg-z+/]/.test(s)) return s
  }
}

const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')

export function jwt(rng: Rng, user: string, iat: number): string {
  const header = b64url({ alg: 'HS256', typ: 'JWT' })
  const payload = b64url({ sub: user, iat: Math.floor(iat / 1000), scope: 'orders:write', jti: chars(rng, B64URL, 12) })
  return `${header}.${payload}.${chars(rng, B64URL, 43)}`
}

export function pemBlock(rng: Rng): { block: string; body: string } {
  const lines = [chars(rng, B64, 64), chars(rng, B64, 64), chars(rng, B64, 64), `${chars(rng, B64, 40)}==`]
  const body = lines.join('\n')
  return { block: `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`, body }
}

/** Luhn check digit for the digits in `partial` (the digit that makes partial+digit valid). */
export function luhnCheckDigit(partial: string): number {
  let sum = 0
  let double = true
  for (let i = partial.length - 1; i >= 0; i--) {
    let d = partial.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return (10 - (sum % 10)) % 10
}

/** A 16-digit Visa or Mastercard number that passes Luhn. */
export function cardNumber(rng: Rng): string {
  let s = rng.pick(['4', '51', '52', '53', '54', '55'])
  while (s.length < 15) s += String(rng.int(0, 9))
  return s + String(luhnCheckDigit(s))
}

/** One leaked log line: what the host writes and the secret strings in it. */
export interface LeakLine {
  readonly type: string
  readonly message: string
  readonly attrs: Readonly<Record<string, string>>
  readonly secrets: readonly string[]
  /** What a DLP rule would call it (never the value). */
  readonly finding: string
}

export function leakLine(kind: SecretKind, rng: Rng, artifact: string, ts: number): LeakLine {
  switch (kind) {
    case 'aws': {
      const id = awsAccessKeyId(rng)
      const key = awsSecretKey(rng)
      return {
        type: 'app.log',
        message: `DEBUG storage.s3 client config: region=eu-west-1 aws_access_key_id=${id} aws_secret_access_key=${key}`,
        attrs: { file: artifact, level: 'debug', logger: 'storage.s3' },
        secrets: [id, key],
        finding: 'aws-access-key',
      }
    }
    case 'jwt': {
      const token = jwt(rng, `svc-orders-${rng.int(10, 99)}`, ts)
      return {
        type: 'http.request',
        message: `POST /api/v1/orders 201 42ms request headers: Authorization: Bearer ${token}`,
        attrs: { file: artifact, method: 'POST', path: '/api/v1/orders', status: '201', authorization: `Bearer ${token}` },
        secrets: [token],
        finding: 'jwt',
      }
    }
    case 'pem': {
      const { block, body } = pemBlock(rng)
      return {
        type: 'app.log',
        message: `ERROR auth.signer could not parse the signing key, contents follow:\n${block}`,
        attrs: { file: artifact, level: 'error', logger: 'auth.signer' },
        secrets: [block, body.slice(0, 64)],
        finding: 'private-key',
      }
    }
    case 'card': {
      const card = cardNumber(rng)
      return {
        type: 'app.log',
        message: `WARN billing payment declined card=${card} exp=09/28 amount=129.90 EUR reason=do_not_honor`,
        attrs: { file: artifact, level: 'warn', logger: 'billing' },
        secrets: [card],
        finding: 'payment-card',
      }
    }
    default: {
      const never: never = kind
      throw new Error(`unknown secret kind ${String(never)}`)
    }
  }
}
