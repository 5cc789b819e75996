import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cardValid, ibanValid, ipv4Valid, ipv6Valid, luhnValid } from './checks.js'
import { buildCorpus } from '../../bench/corpus/generate.js'
import { compileManifest, detectSecrets, redactString, type CompiledManifest } from './index.js'

function manifest(obj: unknown = {}, prefilter = true): CompiledManifest {
  const r = compileManifest(obj, { hashKey: 'detector-test-key-0123456789', prefilter })
  if (!r.ok) throw r.error
  return r.value
}
const all = manifest()
const kinds = (text: string, m = all): string[] => detectSecrets(m, text).map((f) => `${f.detector}:${text.slice(f.start, f.end)}`)

describe('checksums', () => {
  it('Luhn and card rules', () => {
    expect(luhnValid('4111111111111111')).toBe(true)
    expect(luhnValid('4111111111111112')).toBe(false)
    expect(cardValid('4111 1111 1111 1111')).toBe(true)
    expect(cardValid('1111111111111117')).toBe(false) // Luhn-valid, but no issuer starts with 1
    expect(cardValid('411111111111')).toBe(false) // too short
  })
  it('IBAN mod-97 and country length', () => {
    expect(ibanValid('DE89370400440532013000')).toBe(true)
    expect(ibanValid('GB82 WEST 1234 5698 7654 32')).toBe(true)
    expect(ibanValid('DE89370400440532013001')).toBe(false)
    expect(ibanValid('DE8937040044053201300')).toBe(false)
    expect(ibanValid('ZZ89370400440532013000')).toBe(false)
  })
  it('IP address forms', () => {
    for (const ok of ['2001:db8::1', '::1', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.128', '2001:db8::'])
      expect(ipv6Valid(ok), ok).toBe(true)
    for (const bad of ['10:11:12', '00:1a:2b:3c:4d:5e', '1::2::3', '12345::1', '2001:db8:1:2:3:4:5:6:7']) expect(ipv6Valid(bad), bad).toBe(false)
    expect(ipv4Valid('192.168.0.1')).toBe(true)
    expect(ipv4Valid('192.168.0.256')).toBe(false)
    expect(ipv4Valid('192.168.00.1')).toBe(false)
  })
})

describe('detectors', () => {
  const positives: Array<[string, string, string]> = [
    ['email', 'login ok for alice.smith+ops@mail.acme.io.', 'alice.smith+ops@mail.acme.io'],
    ['ipv4', 'connection from 203.0.113.9:443 refused', '203.0.113.9'],
    ['ipv4', 'GET http://10.0.0.7/healthz', '10.0.0.7'],
    ['ipv6', 'listening on [2001:db8::8a2e:370:7334]:443', '2001:db8::8a2e:370:7334'],
    ['card', 'card=4111-1111-1111-1111 declined', '4111-1111-1111-1111'],
    ['card', 'amex 3782 822463 10005 ok', '3782 822463 10005'],
    ['card', 'ids 12 4111 1111 1111 1111 retry', '4111 1111 1111 1111'],
    ['iban', 'payout to GB82 WEST 1234 5698 7654 32 scheduled', 'GB82 WEST 1234 5698 7654 32'],
    ['phone', 'sms to +44 20 7946 0958 sent', '+44 20 7946 0958'],
    ['phone', 'call (415) 555-2671 now', '(415) 555-2671'],
    ['phone', 'tel: 030 1234567', '030 1234567'],
    ['jwt', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU'],
    ['aws-access-key', 'key AKIAQ3EGRT5KFJ2VZP7N used', 'AKIAQ3EGRT5KFJ2VZP7N'],
    ['aws-secret-key', 'aws_secret_access_key = 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', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Mf4Rb2T'],
    ['bearer', 'Authorization: bearer 8f14e45fceea167a5a36dedd4bea2543', '8f14e45fceea167a5a36dedd4bea2543'],
    ['credential', 'GITHUB_TOKEN=gho_abcdefghijklmnopqrstuvwxyz0123456789', 'gho_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['credential', 'db password=Tr0ub4dor&3 host=db', 'Tr0ub4dor'],
    ['pem', 'key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY----- loaded', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----'],
    ['pem', 'truncated -----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg', '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg'],
  ]
  it.each(positives)('%s: finds the secret in %j', (kind, text, secret) => {
    expect(kinds(text)).toContain(`${kind}:${secret}`)
    const out = redactString(all, text)
    expect(out).not.toContain(secret)
    expect(out).toContain(`[${kind}]`)
  })

  const negatives = [
    'order 4111111111111112 shipped', // fails Luhn
    'trace 12345678901234567890', // 20 digits
    'at 1763700000000123', // epoch microseconds (issuer 1)
    'running version 1.2.3.4 of nginx/1.25.3.1 and agent v2.0.0.15',
    'request_id=123e4567-e89b-12d3-a456-426614174000',
    'commit da39a3ee5e6b4b0d3255bfef95601890afd80709',
    'hwaddr 00:1a:2b:3c:4d:5e at 10:11:12',
    'std::vector<int>::push_back failed',
    'rejected account DE00370400440532013000',
    'bearer token missing from request',
    'password reset requested; password: changed; token=***',
    'header eyJhbGciOiJIUzI1NiJ9 only',
    'sku AKIA1234 in stock',
    'upgraded rxjs@7.8.2 and @types/node@20.19.43',
    'took 1234ms, bytes=10485760, 2025-03-05T10:11:12.345Z',
  ]
  it.each(negatives)('finds nothing in %j', (text) => {
    expect(kinds(text)).toEqual([])
  })

  it('can be switched off one by one', () => {
    const m = manifest({ detectors: { email: false, card: { enabled: false } } })
    expect(kinds('alice@acme.io 4111111111111111 10.0.0.1', m)).toEqual(['ipv4:10.0.0.1'])
  })

  it('keeps allow-listed values, exact or by pattern', () => {
    const m = manifest({ detectors: { email: { allow: ['noreply@acme.io'], allowPatterns: ['.*@example\\.(com|org)'] }, ipv4: { allowPatterns: ['10\\.0\\.0\\.\\d+'] } } })
    expect(kinds('from noreply@acme.io to bob@example.org and eve@acme.io via 10.0.0.5 and 10.0.1.5', m)).toEqual(['email:eve@acme.io', 'ipv4:10.0.1.5'])
  })

  it('hashes instead of masking when asked, so equal values stay joinable', () => {
    const m = manifest({ detectors: { email: { action: 'hash' } } })
    const a = redactString(m, 'from alice@acme.io')
    const b = redactString(m, 'to alice@acme.io again')
    expect(a).toMatch(/^from \[email:hmac:[0-9a-f]{16}\]$/)
    expect(b).toContain(a.slice(5))
    expect(redactString(m, 'to bob@acme.io')).not.toContain(a.slice(5))
  })

  it('runs custom detectors with their trigger', () => {
    const m = manifest({ detectors: { custom: [{ name: 'employee-id', pattern: 'EMP-\\d{6}', trigger: 'EMP-' }] } })
    expect(redactString(m, 'badge EMP-123456 scanned')).toBe('badge [employee-id] scanned')
  })

  it('merges overlapping findings so no part of a secret survives', () => {
    const text = 'token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln and password=alice@acme.io'
    const out = redactString(all, text)
    expect(out).toBe('token=[jwt] and password=[credential]')
  })

  it('never re-detects its own placeholders or hash output', () => {
    for (const s of ['[email] [card] [jwt] [aws-access-key] [redacted] …[truncated]', 'hmac:4111111111111111', '[email:hmac:5555555555554444]']) expect(kinds(s)).toEqual([])
  })

  it('prefilter is sound: it never hides a finding the detectors would make', () => {
    const plain = manifest({}, false)
    for (const sample of buildCorpus({ seed: 11, perPair: 1 }).slice(0, 1500)) expect(detectSecrets(all, sample.message)).toEqual(detectSecrets(plain, sample.message))
    const alphabet = fc.constantFrom(...'0123456789 -.:@+()/=_abcdefxyzABEIKRSTYJ[]"\n'.split(''))
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: alphabet, maxLength: 40 }),
            fc.constantFrom(
              '4111 1111 1111 1111',
              'eyJhbGciOi.eyJzdWIi.sig',
              'AKIAQ3EGRT5KFJ2VZP7N',
              '-----BEGIN PRIVATE KEY-----',
              'Bearer ',
              'bEaReR',
              'secret=',
              'ClientSecret',
              'accessToken',
              'PASSWORD',
              'pwd',
              '+1 415 555 2671',
              '(415) 555-2671',
              '415.555.2671',
              'phoneNumber',
              'tel',
              'Mobile_No',
              'DE89370400440532013000',
              'ghp_',
              'xoxb-',
              'sk_live_',
              'AIza',
              'npm_',
              'github_pat_',
              'glpat-',
              '2001:db8::1',
              'fe80',
              '::',
              'A1B2C3D4E5F6A7B8C9D0E1F2',
            ),
          ),
          { maxLength: 6 },
        ),
        (parts) => {
          const text = parts.join('')
          expect(detectSecrets(all, text)).toEqual(detectSecrets(plain, text))
        },
      ),
      { numRuns: 3000, seed: 4242 },
    )
  })
})
