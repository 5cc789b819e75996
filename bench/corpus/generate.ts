import { FORMATS, type SecretFormat } from './formats.js'
import { ALNUM, B64STD, DIGIT, between, draw, hex, ibanOf, one, seeded, uuid4, withLuhn, type Rng } from './prng.js'

/**
 * The labelled corpus: every secret format in every assignment syntax a config, a shell or a
 * program writes (after public secret scanners' sample generators: INI, JSON, YAML, TOML, XML,
 * .properties, env/export, Makefile `:=`/`::=`/`?=`, Go, Java setProperty, C#, PowerShell…), alone
 * in a sentence (distinctive formats), and as an attribute value; personal data in national
 * formats; and a curated negative set that must come out untouched. Part of it is held out
 * (formats and templates that were never looked at while tuning the detectors).
 */
export interface Sample {
  /** What the message says; `attrs` is the attribute map. */
  readonly message: string
  readonly attrs: Readonly<Record<string, string>>
  /** The secret text (empty for a negative). */
  readonly secret: string
  readonly format: string
  /** context template id, `bare`, `attr-key`, `attr-line`, or the negative's type. */
  readonly context: string
  readonly kind: 'context' | 'bare' | 'attr' | 'pii' | 'negative'
  readonly distinctive: boolean
  readonly heldOut: boolean
}

const secretOf = (fmt: SecretFormat, text: string): string => (fmt.secretOf ? fmt.secretOf(text) : text)
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)
type Template = readonly [id: string, make: (i: string, s: string) => string, heldOut: boolean]

export const CONTEXTS: readonly Template[] = [
  ['ini', (i, s) => `${i}Token="${s}"`, false],
  ['ini-spaced', (i, s) => `${i}_token = ${s}`, false],
  ['json', (i, s) => `{ "${i}_token": "${s}" }`, false],
  ['json-nested', (i, s) => `{"config":{"${i}":{"apiKey":"${s}","region":"eu-west-1"}}}`, false],
  ['json-escaped', (i, s) => `payload="{\\"${i}_secret\\": \\"${s}\\"}"`, false],
  ['yaml', (i, s) => `${i}_token: ${s}`, false],
  ['yaml-quoted', (i, s) => `${i}_api_key: '${s}'`, false],
  ['yaml-nested', (i, s) => `${i}:\n  credentials:\n    token: "${s}"\n  region: us-east-1`, false],
  ['toml', (i, s) => `[${i}]\nsecret_key = "${s}"\ntimeout = 30`, false],
  ['xml', (i, s) => `<${i}Token>${s}</${i}Token>`, false],
  ['xml-multiline', (i, s) => `<${i}Token>\n  ${s}\n</${i}Token>`, true],
  ['properties', (i, s) => `${i}.api.token=${s}`, false],
  ['env', (i, s) => `${i.toUpperCase()}_TOKEN=${s}`, false],
  ['export', (i, s) => `export ${i.toUpperCase()}_API_KEY="${s}"`, false],
  ['make-colon', (i, s) => `${i.toUpperCase()}_TOKEN := ${s}`, false],
  ['make-double-colon', (i, s) => `${i.toUpperCase()}_TOKEN ::= ${s}`, false],
  ['make-question', (i, s) => `${i.toUpperCase()}_TOKEN ?= ${s}`, false],
  ['go-short', (i, s) => `${i}Token := "${s}"`, false],
  ['go-var', (i, s) => `var ${i}Token string = "${s}"`, false],
  ['go-backtick', (i, s) => `${i}Secret := \`${s}\``, true],
  ['java', (i, s) => `String ${i}Token = "${s}";`, false],
  ['java-setproperty', (i, s) => `System.setProperty("${i.toUpperCase()}_TOKEN", "${s}");`, false],
  ['csharp', (i, s) => `var ${i}ApiKey = "${s}";`, false],
  ['python', (i, s) => `${i}_secret = '${s}'`, false],
  ['php', (i, s) => `$${i}Token = "${s}";`, true],
  ['powershell', (i, s) => `$env:${i.toUpperCase()}_TOKEN = "${s}"`, true],
  ['ruby-hash', (i, s) => `:${i}_token => "${s}"`, true],
  ['camel', (i, s) => `${i}SecretKey = "${s}"`, false],
  ['scanner-keyword', (i, s) => `${i} token = '${s}'`, false],
  ['scanner-dash', (i, s) => `${i} secret - '${s}'`, true],
  ['cli-flag', (i, s) => `${i}-cli login --token ${s}`, true],
  ['header', (i, s) => `curl -H "X-${cap(i)}-Token: ${s}" https://api.${i}.example.com/v1`, true],
  ['log-line', (i, s) => `2025-06-01T10:00:00Z INFO ${i} client configured with api_key=${s} (retries=3)`, false],
]

const BARE: readonly ((s: string) => string)[] = [(s) => `found ${s} in the build output`, (s) => s, (s) => `rotate ${s} now`, (s) => `"${s}"`, (s) => `leaked: ${s}.`]

/** Things that look like secrets, or sit where secrets sit, and are not: nothing may be redacted. */
const NEGATIVES: readonly (readonly [string, (r: Rng) => string])[] = [
  ['var-ref-shell', () => `${one(seeded(1), ['DB'])}_PASSWORD=\${DB_PASSWORD}`],
  ['var-ref-make', (r) => `API_TOKEN := $(${one(r, ['API_TOKEN', 'SECRET_FROM_ENV'])})`],
  ['var-ref-node', (r) => `const token = process.env.${one(r, ['GITHUB_TOKEN', 'NPM_TOKEN', 'API_KEY'])}`],
  ['var-ref-python', (r) => `password = os.environ["${one(r, ['DB_PASSWORD', 'PGPASSWORD'])}"]`],
  ['var-ref-terraform', (r) => `password = var.${one(r, ['db_password', 'admin_password'])}`],
  ['var-ref-helm', () => `token: {{ .Values.api.token }}`],
  ['var-ref-gha', () => `GITHUB_TOKEN: \${{ secrets.GITHUB_TOKEN }}`],
  ['var-ref-spring', () => `spring.datasource.password=\${DB_PASSWORD:}`],
  ['placeholder-angle', (r) => `api_key = "<${one(r, ['your-api-key', 'YOUR_API_KEY', 'api key here'])}>"`],
  ['placeholder-x', (r) => `token: ${'x'.repeat(between(r, 16, 40))}`],
  ['placeholder-stars', () => `password: "********"`],
  ['placeholder-example', () => `AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE`],
  ['placeholder-example-secret', () => `aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`],
  ['placeholder-changeme', () => `admin_password: changeme`],
  ['placeholder-github', () => `GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`],
  ['placeholder-your', () => `export OPENAI_API_KEY="your-openai-api-key"`],
  ['trace-id', (r) => `trace_id=${hex(r, 32)} span_id=${hex(r, 16)} handled GET /orders`],
  ['traceparent', (r) => `traceparent: 00-${hex(r, 32)}-${hex(r, 16)}-01`],
  ['commit-sha', (r) => `deployed commit ${hex(r, 40)} to production`],
  ['short-sha', (r) => `build ${hex(r, 7)} passed`],
  ['uuid', (r) => `request_id=${uuid4(r)} status=200`],
  ['uuid-json', (r) => `{"id":"${uuid4(r)}","tenant_id":"${uuid4(r)}"}`],
  ['sha256', (r) => `image digest sha256:${hex(r, 64)}`],
  ['md5', (r) => `file checksum md5=${hex(r, 32)}`],
  ['etag', (r) => `ETag: "${hex(r, 32)}"`],
  ['base64-text', (r) => `body=${Buffer.from(one(r, ['hello world from the api', 'status: ok; items: 12', '{"page":2,"size":50}'])).toString('base64')}`],
  ['prose-password', (r) => one(r, ['password reset requested for the account', 'password: changed', 'the password policy requires 12 characters', 'invalid password for user'])],
  ['prose-token', (r) => one(r, ['token expired, refreshing', 'api key rotated by operator', 'invalid bearer token', 'Basic authentication failed', 'secret rotation completed'])],
  ['token-count', (r) => `max_tokens=${between(r, 256, 8192)} prompt_tokens=${between(r, 10, 900)}`],
  ['tokenizer', () => `tokenizer=cl100k_base model=gpt-4o`],
  ['public-key', (r) => `public_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${draw(r, B64STD, 43)} ops@bastion`],
  ['cache-key', (r) => `cache_key=user:${between(r, 1, 99999)}:profile hit=true`],
  ['key-id', (r) => `key_id=${hex(r, 16)} algorithm=RS256`],
  ['token-type', () => `token_type=bearer expires_in=3600`],
  ['order-number', (r) => `order ${withLuhn(`4${draw(r, DIGIT, 14)}`).slice(0, 15)}${between(r, 0, 9) === 10 ? '' : 'X'} shipped`],
  ['version', (r) => `agent version ${between(r, 1, 9)}.${between(r, 0, 30)}.${between(r, 0, 9)}.${between(r, 100, 999)}`],
  ['date', (r) => `backup of 0${between(r, 1, 9)}/1${between(r, 0, 2)}/2025 done`],
  ['pod', (r) => `pod web-${hex(r, 10)}-${draw(r, 'bcdfghjklmnpqrstvwxz', 5)} ready`],
  ['k8s-configmap', () => `kind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n  FEATURE_FLAGS: aGVsbG8=`],
  ['url-no-credentials', (r) => `GET https://api.example.com/v1/items/${between(r, 1, 999)}?page=2 200`],
  ['url-var-password', () => `DATABASE_URL=postgres://app:\${DB_PASSWORD}@db:5432/app`],
]

/** Personal data the default manifest must mask (labelled with the pattern name). */
const PII: readonly (readonly [string, (r: Rng) => string])[] = [
  ['email', (r) => `${one(r, ['alice', 'bob.smith', 'c.nguyen+ops'])}@${one(r, ['example.org', 'acme.io', 'xn--bcher-kva.de', 'mail.xn--80ak6aa92e.com'])}`],
  ['phone-uk', (r) => `020 7946 0${between(r, 100, 999)}`],
  ['phone-fr', (r) => `0${between(r, 1, 7)} ${between(r, 10, 99)} ${between(r, 10, 99)} ${between(r, 10, 99)} ${between(r, 10, 99)}`],
  ['phone-de', (r) => `030 ${between(r, 1000000, 99999999)}`],
  ['phone-jp', (r) => `03-${between(r, 1000, 9999)}-${between(r, 1000, 9999)}`],
  ['phone-intl', (r) => `+44 7700 ${between(r, 100000, 999999)}`],
  ['phone-us', (r) => `(${between(r, 201, 989)}) ${between(r, 200, 999)}-${between(r, 1000, 9999)}`],
  [
    'iban-dash',
    (r) =>
      ibanOf('DE', draw(r, DIGIT, 18))
        .match(/.{1,4}/g)!
        .join('-'),
  ],
  [
    'iban-space',
    (r) =>
      ibanOf('FR', draw(r, DIGIT, 23))
        .match(/.{1,4}/g)!
        .join(' '),
  ],
  ['card-visa', (r) => withLuhn(`4${draw(r, DIGIT, 14)}`)],
  ['card-uatp', (r) => withLuhn(`1${draw(r, DIGIT, 13)}`)],
]

export interface CorpusSpec {
  readonly seed?: number
  /** Samples per (format, template) pair, and per negative/PII type. */
  readonly perPair?: number
}

/** The whole labelled corpus, deterministic in the seed. */
export function buildCorpus(spec: CorpusSpec = {}): Sample[] {
  const r = seeded(spec.seed ?? 2025)
  const per = spec.perPair ?? 1
  const out: Sample[] = []
  FORMATS.forEach((fmt, fi) => {
    const heldFormat = fi % 5 === 4
    for (let k = 0; k < per; k++) {
      for (const [id, make, heldCtx] of CONTEXTS) {
        const s = fmt.make(r)
        out.push({
          message: make(fmt.word, s),
          attrs: {},
          secret: secretOf(fmt, s),
          format: fmt.id,
          context: id,
          kind: 'context',
          distinctive: fmt.distinctive,
          heldOut: heldFormat || heldCtx,
        })
      }
      const s = fmt.make(r)
      out.push({
        message: 'config loaded',
        attrs: { [`${fmt.word}_token`]: s },
        secret: secretOf(fmt, s),
        format: fmt.id,
        context: 'attr-key',
        kind: 'attr',
        distinctive: fmt.distinctive,
        heldOut: heldFormat,
      })
      const s2 = fmt.make(r)
      const [cid, cmake] = CONTEXTS[(fi + k) % CONTEXTS.length]
      out.push({
        message: 'config loaded',
        attrs: { detail: cmake(fmt.word, s2) },
        secret: secretOf(fmt, s2),
        format: fmt.id,
        context: `attr-line:${cid}`,
        kind: 'attr',
        distinctive: fmt.distinctive,
        heldOut: heldFormat,
      })
      if (fmt.distinctive) {
        BARE.forEach((b, bi) => {
          const s3 = fmt.make(r)
          out.push({
            message: b(s3),
            attrs: {},
            secret: secretOf(fmt, s3),
            format: fmt.id,
            context: `bare-${bi}`,
            kind: 'bare',
            distinctive: true,
            heldOut: heldFormat || bi === 4,
          })
        })
      }
    }
  })
  for (let k = 0; k < per * 4; k++) {
    NEGATIVES.forEach(([type, make], ni) => {
      out.push({ message: make(r), attrs: {}, secret: '', format: type, context: type, kind: 'negative', distinctive: false, heldOut: ni % 5 === 4 })
      if (k === 0)
        out.push({
          message: 'config loaded',
          attrs: { setting: make(r) },
          secret: '',
          format: type,
          context: `attr:${type}`,
          kind: 'negative',
          distinctive: false,
          heldOut: ni % 5 === 4,
        })
    })
    PII.forEach(([type, make], pi) => {
      const s = make(r)
      out.push({ message: `contact ${s} for details`, attrs: {}, secret: s, format: type, context: 'pii', kind: 'pii', distinctive: false, heldOut: pi % 5 === 4 })
    })
  }
  // a Kubernetes Secret, structured credentials in their usual places
  for (let k = 0; k < per * 4; k++) {
    const pw = `${draw(r, ALNUM, 12)}!${between(r, 10, 99)}`
    const structured: (readonly [string, string, string])[] = [
      ['basic-auth', Buffer.from(`admin:${pw}`).toString('base64'), ''],
      ['curl-user', `deploy:${pw}`, ''],
      ['url-userinfo', `svc_user:${pw}`, ''],
      ['jdbc-postgres', `app:${pw}`, ''],
      ['mongodb', `root:${pw}`, ''],
      ['redis', `:${pw}`, ''],
      ['amqp', `guest:${pw}`, ''],
      ['k8s-secret', Buffer.from(pw).toString('base64'), ''],
      ['base64-jwt', Buffer.from(FORMATS.find((x) => x.id === 'jwt')!.make(r)).toString('base64'), ''],
      ['pem', `-----BEGIN RSA PRIVATE KEY-----\n${draw(r, B64STD, 64)}\n${draw(r, B64STD, 64)}\n-----END RSA PRIVATE KEY-----`, ''],
      ['openssh', `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${draw(r, B64STD, 40)}\n-----END OPENSSH PRIVATE KEY-----`, ''],
      ['putty', `PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\n${draw(r, B64STD, 64)}\nPrivate-MAC: ${hex(r, 64)}`, ''],
    ]
    const wrap: Record<string, (s: string) => string> = {
      'basic-auth': (s) => `GET /admin Authorization: Basic ${s}`,
      'curl-user': (s) => `curl -u ${s} https://ci.example.com/api/json`,
      'url-userinfo': (s) => `fetching https://${s}@git.example.com/org/repo.git`,
      'jdbc-postgres': (s) => `jdbc:postgresql://${s}@db.internal:5432/orders`,
      mongodb: (s) => `MONGO_URL=mongodb+srv://${s}@cluster0.abcde.mongodb.net/prod`,
      redis: (s) => `redis://${s}@cache:6379/0`,
      amqp: (s) => `broker amqp://${s}@rabbit:5672/vhost connected`,
      'k8s-secret': (s) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  db-pass: ${s}\n  username: YWRtaW4=`,
      'base64-jwt': (s) => `SESSION_B64=${s}`,
      pem: (s) => `loaded key ${s}`,
      openssh: (s) => s,
      putty: (s) => s,
    }
    structured.forEach(([type, secret], si) => {
      out.push({ message: wrap[type](secret), attrs: {}, secret, format: type, context: 'structured', kind: 'context', distinctive: true, heldOut: si % 5 === 4 })
    })
  }
  return out
}

export { FORMATS, type SecretFormat }
