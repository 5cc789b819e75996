import { describe, expect, it } from 'vitest'
import { metricsRegistry } from '../../streams/index.js'
import { crc32TokenValid, jwtStructureValid } from './checks.js'
import { classifyKey, KeyClass } from './generic.js'
import { compileManifest, defaultManifest, detectSecrets, redactString, scrubFact } from './index.js'
import { TEST_KEY } from '../../test/fixtures/scrub.js'

const m = defaultManifest({ hashKey: TEST_KEY })
const SECRET = 'q8Mf4Rb2Tx1LzN7vKd3WpY6sHc9Ge5Aj'
const masked = (text: string, secret = SECRET): void => {
  const out = redactString(m, text)
  expect(out, text).not.toContain(secret)
  for (let i = 0; i + 8 <= secret.length; i++) expect(out, `${text}: run ${secret.slice(i, i + 8)}`).not.toContain(secret.slice(i, i + 8))
}
const untouched = (text: string): void => expect(redactString(m, text), text).toBe(text)

describe('generic credentials in every assignment syntax', () => {
  it.each([
    `fooToken := "${SECRET}"`,
    `FOO_TOKEN ::= ${SECRET}`,
    `FOO_TOKEN ?= ${SECRET}`,
    `awsSecretKey = "${SECRET}"`,
    `twitterToken = "${SECRET}"`,
    `<password>${SECRET}</password>`,
    `<fooToken>\n  ${SECRET}\n</fooToken>`,
    `System.setProperty("FOO_TOKEN", "${SECRET}");`,
    `{"db": {"credentials": {"password": "${SECRET}"}}}`,
    `db:\n  password: ${SECRET}\n  host: x`,
    `[db]\napi_key = "${SECRET}"`,
    `db.password=${SECRET}`,
    `export FOO_API_KEY="${SECRET}"`,
    `var fooToken string = "${SECRET}"`,
    `payload="{\\"client_secret\\": \\"${SECRET}\\"}"`,
    `foo token = '${SECRET}'`,
    `foo secret - '${SECRET}'`,
  ])('masks the value in %j', (text) => masked(text))

  it.each([
    'DB_PASSWORD=${DB_PASSWORD}',
    'password = var.db_password',
    'token: {{ .Values.api.token }}',
    'const token = process.env.GITHUB_TOKEN',
    'api_key = "<your-api-key>"',
    'token: xxxxxxxxxxxxxxxxxxxxxxxx',
    'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE',
    'password: changeme',
    'max_tokens=4096 tokenizer=cl100k_base',
    'cache miss for key user:4242:profile, loading',
    'password reset requested; token expired',
    'trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7',
    'commit da39a3ee5e6b4b0d3255bfef95601890afd80709',
    'request_id=123e4567-e89b-12d3-a456-426614174000',
    'key_file = /etc/ssl/private/server.key',
  ])('leaves %j alone', (text) => untouched(text))

  it('never crosses a newline into the next line', () => {
    const out = redactString(m, `password=\nuser_key_name=orders`)
    expect(out).toBe(`password=\nuser_key_name=orders`)
    expect(redactString(m, `password: hunter2\ntimeout: 30`)).toBe(`password: [credential]\ntimeout: 30`)
  })

  it('reads keys the way programmers write them', () => {
    expect(classifyKey('awsSecretKey')).toBe(KeyClass.Secret)
    expect(classifyKey('DB_PASSWORD')).toBe(KeyClass.Password)
    expect(classifyKey('monkey')).toBe(KeyClass.None)
    expect(classifyKey('token_type')).toBe(KeyClass.None)
    expect(classifyKey('public_key')).toBe(KeyClass.None)
    expect(classifyKey('secret_id')).toBe(KeyClass.Secret)
  })
})

describe('structured credentials', () => {
  it.each([
    ['basic-auth', `Authorization: Basic ${Buffer.from('admin:Sup3rS3cret!').toString('base64')}`, Buffer.from('admin:Sup3rS3cret!').toString('base64')],
    ['curl-user', 'curl -u deploy:Sup3rS3cret! https://ci', 'deploy:Sup3rS3cret!'],
    ['url-credentials', 'mongodb+srv://root:Sup3rS3cret@cluster0.x.net/db', 'root:Sup3rS3cret'],
    ['url-credentials', 'redis://:Sup3rS3cret99@cache:6379', ':Sup3rS3cret99'],
    ['url-credentials', 'jdbc:postgresql://app:Sup3rS3cret@db:5432/x', 'app:Sup3rS3cret'],
    ['k8s-secret', 'kind: Secret\ndata:\n  db-pass: U3VwM3JTM2NyZXQ=', 'U3VwM3JTM2NyZXQ='],
  ])('%s in %j', (kind, text, secret) => {
    expect(detectSecrets(m, text).map((f) => f.detector)).toContain(kind)
    masked(text, secret)
  })

  it('keeps the user name out of URLs too, and the host in', () => {
    expect(redactString(m, 'amqp://guest:Sup3rS3cret@rabbit:5672/')).toBe('amqp://[url-credentials]@rabbit:5672/')
  })

  it('verifies checksums where the format has one, and JWT structure', () => {
    const body = 'abcdefghijABCDEFGHIJ0123456789'
    // checksum computed outside this code base (Python's zlib.crc32, base62-encoded)
    expect(crc32TokenValid('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', 4)).toBe(true)
    expect(detectSecrets(m, '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')[0]).toMatchObject({ detector: 'github-pat', verified: true })
    expect(crc32TokenValid(`ghp_${body}000000`, 4)).toBe(false)
    const found = detectSecrets(m, `ghp_${body}000000`)
    expect(found[0]).toMatchObject({ detector: 'github-pat', verified: false })
    expect(jwtStructureValid('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x')).toBe(true)
    expect(jwtStructureValid('eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.x')).toBe(false)
  })
})

describe('personal data', () => {
  it.each([
    ['phone', 'call 020 7946 0958 today', '020 7946 0958'],
    ['phone', 'tel 01 23 45 67 89', '01 23 45 67 89'],
    ['phone', 'call 03-1234-5678', '03-1234-5678'],
    ['iban', 'to DE89-3704-0044-0532-0130-00 now', 'DE89-3704-0044-0532-0130-00'],
    ['email', 'from user@xn--bcher-kva.xn--p1ai ok', 'user@xn--bcher-kva.xn--p1ai'],
    ['card', 'uatp 122000000000003 ok', '122000000000003'],
  ])('%s in %j', (kind, text, value) => {
    expect(detectSecrets(m, text).map((f) => `${f.detector}:${text.slice(f.start, f.end)}`)).toContain(`${kind}:${value}`)
  })
  it('dates are not national phone numbers', () => untouched('backup of 01/02/2024 done'))
})

describe('catalogue as manifest data', () => {
  it('a new format is a manifest change, and a bad entry is refused with its name', () => {
    const r = compileManifest({ detectors: { catalogue: [{ name: 'acme-key', prefix: 'acme_', body: '[a-z0-9]{20}' }] } }, { hashKey: TEST_KEY })
    expect(r.ok).toBe(true)
    if (r.ok) expect(redactString(r.value, 'k acme_abcdefghij0123456789 x')).toBe('k [acme-key] x')
    const bad = compileManifest({ detectors: { catalogue: [{ name: 'acme-key', prefix: 'acme_' }] } })
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.error.message).toContain('catalogue[0] (acme-key)')
  })
})

describe('scrubFact', () => {
  it('scrubs a JSON line or an object with the stage code and says what it redacted', () => {
    const line = JSON.stringify({
      lane: 'event',
      source: 'web-3',
      ts: 1763700000000,
      type: 'log',
      message: `deploy with GITHUB_TOKEN=ghp_${'a1B2c3D4e5'.repeat(3)}A1b2C3`,
      attrs: { password: 'hunter2', note: 'ok' },
    })
    const r = scrubFact(line, m)
    expect(r.ok).toBe(true)
    if (!r.ok) return
    const p = r.fact.payload as { message: string; attrs: Record<string, string> }
    expect(p.message).toBe('deploy with GITHUB_TOKEN=[github-pat]')
    expect(p.attrs).toEqual({ password: '[credential]', note: 'ok' })
    expect(r.redactions).toEqual(
      expect.arrayContaining([
        { field: 'message', rule: 'github-pat', count: 1 },
        { field: 'attrs.password', rule: 'credential', count: 1 },
      ]),
    )
    expect(scrubFact('not json').ok).toBe(false)
  })

  it('counts redactions per detector in the metrics registry', async () => {
    scrubFact({ lane: 'event', source: 'web-3', ts: 1, type: 't', message: 'key sk_live_0123456789abcdefABCDEF', attrs: {} }, m)
    const text = await metricsRegistry.metrics()
    expect(text).toMatch(/ben_scrub_redactions_total\{detector="stripe-secret-key"\} [1-9]/)
  })
})
