import { entropy, isPlaceholder } from './checks.js'

/**
 * Generic credentials in assignments: a key that names a secret (`password`, `awsSecretKey`,
 * `ADAFRUIT_TOKEN`, `db.password`, `<password>`, `setProperty("api.key", …)`), an assignment
 * operator of any common syntax (`=`, `:=`, `::=`, `?=`, `+=`, `:`, `=>`, `->`, `<-`, ` - `, XML
 * `>…</…>`, a `,` after a quoted key) and a value that is a credential: not a placeholder or a
 * variable reference, and, for keys that are not passwords, shaped like a token.
 *
 * The detector's regex only finds the secret words; this module reads the key around the word,
 * the operator and the value by hand (one forward pass, never across a newline).
 */

/** What a key names: a password (any non-placeholder value counts), another secret (value must look like a token), or nothing. */
export const KeyClass = { None: 0, Password: 1, Secret: 2 } as const
export type KeyClass = (typeof KeyClass)[keyof typeof KeyClass]

const KEY_PREFIXES = new Set([
  'api',
  'secret',
  'access',
  'private',
  'master',
  'license',
  'licence',
  'signing',
  'encryption',
  'enc',
  'auth',
  'app',
  'client',
  'account',
  'service',
  'subscription',
  'admin',
  'consumer',
  'server',
  'shared',
  'root',
  'crypto',
  'sign',
  'hmac',
  'jwt',
  'session',
  'aes',
  'pgp',
  'gpg',
  'rsa',
  'ssh',
  'deploy',
  'webhook',
  'storage',
  'instrumentation',
  'ingest',
  'ingestion',
  'write',
  'read',
  'personal',
  'user',
  'dev',
  'prod',
  'live',
  'test',
  'x',
  'sdk',
  'mobile',
  'rest',
  'management',
  'cipher',
  'decryption',
  'kms',
  'vault',
  'bot',
  'partner',
  'merchant',
  'developer',
  'integration',
  'project',
  'org',
  'team',
  'workspace',
  'primary',
  'secondary',
])
const NOT_SECRET_BEFORE_KEY = new Set([
  'public',
  'pub',
  'cache',
  'sort',
  'foreign',
  'partition',
  'idempotency',
  'object',
  's3',
  'bucket',
  'row',
  'routing',
  'dedup',
  'dedupe',
  'lookup',
  'map',
  'dict',
  'unique',
  'composite',
  'shard',
  'sharding',
  'group',
  'message',
  'translation',
  'i18n',
  'host',
  'range',
  'hash',
  'primary',
  'index',
  'redis',
  'kv',
  'metadata',
  'label',
  'annotation',
  'config',
  'registry',
  'schema',
  'field',
  'column',
  'table',
  'dictionary',
  'hot',
  'short',
  'next',
  'prev',
  'previous',
  'start',
  'end',
  'cursor',
  'continuation',
  'page',
])
const DENY_LAST = new Set([
  'id',
  'ids',
  'type',
  'types',
  'name',
  'names',
  'count',
  'length',
  'len',
  'size',
  'url',
  'uri',
  'path',
  'file',
  'filename',
  'dir',
  'endpoint',
  'host',
  'format',
  'version',
  'header',
  'prefix',
  'suffix',
  'label',
  'field',
  'policy',
  'expiry',
  'expires',
  'expiration',
  'exp',
  'ttl',
  'timeout',
  'at',
  'enabled',
  'required',
  'valid',
  'limit',
  'max',
  'min',
  'algorithm',
  'alg',
  'kind',
  'mode',
  'scope',
  'scopes',
  'usage',
  'index',
  'hint',
  'regex',
  'pattern',
  'rotation',
  'created',
  'updated',
  'owner',
  'lifetime',
  'ref',
  'location',
  'provider',
  'source',
  'manager',
  'env',
  'var',
  'variable',
  'param',
  'hash',
  'hashed',
  'reset',
  'strength',
  'changed',
  'policy',
  'rules',
  'store',
  'vault',
  'arn',
  'pairs',
  'pair',
  'fingerprint',
  'length',
  'issuer',
  'audience',
  'endpoint',
  'region',
  'user',
  'username',
  'login',
  'email',
  'prompt',
  'message',
  'error',
  'status',
  'state',
  'pos',
  'position',
  'start',
  'end',
  'len',
  'value_from',
  'from',
  'ref',
  'selector',
  'key_ref',
  'keyref',
  'mount',
  'volume',
  'method',
  'flow',
  'grant',
  'caching',
  'cache',
  'duration',
  'interval',
  'age',
  'days',
  'seconds',
  'ms',
  'minutes',
  'hours',
  'rotated',
  'generated',
  'used',
  'set',
  'bits',
  'encoding',
  'storage',
  'budget',
  'usage',
  'estimate',
  'estimated',
  'tokens',
  'spent',
  'left',
  'remaining',
  'rate',
  'window',
  'ratio',
  'kid',
])
const DENY_FIRST = new Set([
  'max',
  'min',
  'num',
  'total',
  'input',
  'output',
  'prompt',
  'completion',
  'no',
  'is',
  'has',
  'use',
  'show',
  'enable',
  'disable',
  'allow',
  'require',
  'should',
  'skip',
  'public',
  'pub',
  'forgot',
  'forgotten',
  'reset',
  'change',
  'new_',
  'validate',
  'verify',
  'check',
  'hide',
  'mask',
])
const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'pass', 'passphrase', 'passcode', 'pword', 'passw', 'pswd', 'psw'])
const NOT_PASS = new Set([
  'bypass',
  'compass',
  'passenger',
  'passthrough',
  'passive',
  'passed',
  'passes',
  'passing',
  'passport',
  'overpass',
  'underpass',
  'trespass',
  'encompass',
  'surpass',
  'impass',
  'passage',
  'passion',
])
const NOT_TOKEN = new Set(['tokenizer', 'tokenize', 'tokenized', 'tokenization', 'tokenizers', 'detokenize', 'tokenise', 'tokeniser'])

function wordSecretness(w: string, prev: string): KeyClass {
  if (PASSWORD_WORDS.has(w)) return KeyClass.Password
  if (w.endsWith('password') || w.endsWith('passwd') || (w.endsWith('pwd') && w.length <= 12)) return KeyClass.Password
  if (w.endsWith('pass') && w.length <= 12 && !NOT_PASS.has(w)) return KeyClass.Password
  if (w.includes('secret') && !w.startsWith('secretar')) return KeyClass.Secret
  if (w.includes('token') && !NOT_TOKEN.has(w)) return KeyClass.Secret
  if (w === 'key' || w === 'keys') return prev === '' || !NOT_SECRET_BEFORE_KEY.has(prev) ? KeyClass.Secret : KeyClass.None
  if (w.endsWith('key') && w.length > 3) {
    const head = w.slice(0, -3)
    if (KEY_PREFIXES.has(head) || head.endsWith('api') || head.endsWith('secret') || head.endsWith('access') || head.endsWith('private')) return KeyClass.Secret
    return KeyClass.None
  }
  if (w === 'auth' || w === 'authorization' || w === 'authkey' || w === 'credential' || w === 'credentials' || w === 'cred' || w === 'creds') return KeyClass.Secret
  if (w === 'bearer' || w === 'sig' || w === 'signature' || w === 'sas' || w === 'pat' || w === 'apikey' || w === 'privatekey') return KeyClass.Secret
  return KeyClass.None
}

/** Splits an identifier into lower-case words: camelCase, snake_case, kebab-case, dotted, `$x`, `@x`. */
function splitWords(key: string): string[] {
  const words: string[] = []
  let cur = ''
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    const isUpper = c >= 65 && c <= 90
    const isLower = (c >= 97 && c <= 122) || (c >= 48 && c <= 57)
    if (!isUpper && !isLower) {
      if (cur !== '') words.push(cur)
      cur = ''
      continue
    }
    if (isUpper && cur !== '') {
      const p = key.charCodeAt(i - 1)
      const n = i + 1 < key.length ? key.charCodeAt(i + 1) : 0
      // a new word: aB, or ABc (the last capital of an acronym starts the next word)
      if ((p >= 97 && p <= 122) || (p >= 48 && p <= 57) || (p >= 65 && p <= 90 && n >= 97 && n <= 122)) {
        words.push(cur)
        cur = ''
      }
    }
    cur += String.fromCharCode(isUpper ? c + 32 : c)
  }
  if (cur !== '') words.push(cur)
  return words
}

const KEY_CACHE = new Map<string, KeyClass>()
const KEY_CACHE_LIMIT = 4096

/** How secret the key `key` is (see KeyClass). Exported for attribute keys, which are keys too. Memoised (keys repeat). */
export function classifyKey(key: string): KeyClass {
  let c = KEY_CACHE.get(key)
  if (c === undefined) {
    c = classifyUncached(key)
    if (KEY_CACHE.size >= KEY_CACHE_LIMIT) KEY_CACHE.clear()
    KEY_CACHE.set(key, c)
  }
  return c
}

function classifyUncached(key: string): KeyClass {
  if (key.length === 0 || key.length > 100) return KeyClass.None
  const words = splitWords(key)
  if (words.length === 0) return KeyClass.None
  let cls: KeyClass = KeyClass.None
  let secretWord = -1
  for (let i = 0; i < words.length; i++) {
    const c = wordSecretness(words[i], i > 0 ? words[i - 1] : '')
    if (c !== KeyClass.None && (cls === KeyClass.None || c === KeyClass.Password)) {
      cls = c
      secretWord = i
    }
  }
  if (cls === KeyClass.None) return cls
  const last = words[words.length - 1]
  if (secretWord < words.length - 1 && DENY_LAST.has(last)) {
    // `secret_id` (Vault AppRole) and `*_secret_key_id`-like keys stay secret only when the word before `id` is `secret`
    if (!(last === 'id' && words[words.length - 2] === 'secret')) return KeyClass.None
  }
  if (secretWord > 0 && DENY_FIRST.has(words[0])) return KeyClass.None
  if (words.length === 1 && (last === 'auth' || last === 'sig' || last === 'signature' || last === 'pat') && cls === KeyClass.Secret) return KeyClass.Secret
  return cls
}

const NOT_A_VALUE = new Set([
  'changed',
  'required',
  'missing',
  'empty',
  'invalid',
  'incorrect',
  'expired',
  'reset',
  'set',
  'ok',
  'wrong',
  'updated',
  'mismatch',
  'accepted',
  'rejected',
  'provided',
  'protected',
  'prompt',
  'none',
  'null',
  'nil',
  'true',
  'false',
  'undefined',
  'hidden',
  'masked',
  'redacted',
  'secret',
  'password',
  'passwd',
  'string',
  'str',
  'int',
  'bool',
  'boolean',
  'text',
  'value',
  'default',
  'optional',
  'yes',
  'no',
  'on',
  'off',
  'enabled',
  'disabled',
  'is',
  'was',
  'for',
  'and',
  'the',
  'of',
  'to',
  'in',
  'not',
  'has',
  'too',
  'must',
  'should',
  'will',
  'can',
  'cannot',
  'length',
  'strength',
  'policy',
  'auth',
  'authentication',
  'login',
  'user',
  'username',
  'field',
  'input',
  'type',
  'hash',
  'hashed',
  'encrypted',
  'plain',
  'plaintext',
  'sha256',
  'md5',
  'bcrypt',
  'argon2',
  'token',
  'key',
  'bearer',
  'basic',
  'digest',
  'negotiate',
  'ntlm',
  'oauth',
  'oauth2',
  'jwt',
  'apikey',
  'api_key',
  'secretkey',
  'credentials',
  'credential',
  'env',
  'environment',
  'file',
  'vault',
  'kms',
  'n/a',
  'na',
  'tbd',
  'todo',
  'unknown',
  'unset',
  'sensitive',
  'refresh',
  'access',
  'id_token',
  'access_token',
  'refresh_token',
  'client_credentials',
  'authorization_code',
  'password_grant',
  'revoked',
  'valid',
  'verified',
  'generated',
  'rotated',
  'created',
  'deleted',
  'found',
  'notfound',
  'failed',
  'success',
  'error',
  'match',
  'matched',
  'matches',
  'ignored',
  'skipped',
])

/** The longest word in NOT_A_VALUE: longer values skip the lower-casing and the lookup. */
const NOT_A_VALUE_MAX = Math.max(...[...NOT_A_VALUE].map((w) => w.length))

// Scratch for character-class counts (one value at a time).
function shape(v: string): { upper: number; lower: number; digit: number; other: number; space: number } {
  let upper = 0
  let lower = 0
  let digit = 0
  let other = 0
  let space = 0
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c >= 65 && c <= 90) upper++
    else if (c >= 97 && c <= 122) lower++
    else if (c >= 48 && c <= 57) digit++
    else if (c === 32 || c === 9) space++
    else other++
  }
  return { upper, lower, digit, other, space }
}

const DOTTED_IDENT = /^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)+(?:\(\))?$/
const CALL = /^[\w.$:]+\(/
const NUMBERISH = /^[v]?\d+(?:[.:/-]\d+)*$/i
const LOWER_IDENT = /^[a-z]+(?:[-_.][a-z]+)*$/
const BCRYPT = /^\$2[abxy]?\$\d\d\$/
/** A file path or a URL without credentials (those have their own detector): a reference, not a secret. */
const PATH_OR_URL =
  /^(?:[a-z][a-z0-9+.-]*:\/\/[^@]*$|~?\.{0,2}\/[\w.-]+(?:\/[\w.-]*)*$|[\w.-]+\.(?:pem|key|crt|cer|der|p12|pfx|jks|json|ya?ml|txt|env|conf|cfg|ini|properties|xml|toml|js|ts|py|go|rb|sh|pub|gpg|asc|kdbx)$)/i
/** Characters of a token (base64, base64url, hex, dotted and colon-joined forms). */
const TOKEN_CHARS = /^[A-Za-z0-9+/=_.~:-]+$/
const PASSWORDISH = /^[\x21-\x7e]+$/
/** A lower-case word of 4+ letters between separators: `user:4242:profile`, `orders-v2-eu`: an identifier. */
const WORDY = /(?:^|[:._/-])[a-z]{4,}(?:[:._/-]|$)/

/**
 * Whether `v` (already unquoted) is a credential for a key of class `cls`. `strong` demands a
 * token-like value whatever the class (used when nothing but whitespace separates key and value).
 */
export function credentialValue(v: string, cls: KeyClass, strong: boolean): boolean {
  const n = v.length
  if (n === 0 || n > 1024) return false
  if (BCRYPT.test(v)) return true
  if (n <= NOT_A_VALUE_MAX && NOT_A_VALUE.has(v.toLowerCase())) return false
  if (isPlaceholder(v)) return false
  if (DOTTED_IDENT.test(v) || CALL.test(v) || PATH_OR_URL.test(v)) return false
  const s = shape(v)
  if (cls === KeyClass.Password && !strong) {
    if (n < 3 || s.space > 0) return false
    if (n <= 3 && s.digit === n) return false
    return true
  }
  // a token: long enough, no blanks, token characters (or a password-like mix of all classes), some variety
  if (n < 8 || s.space > 0) return false
  if (!TOKEN_CHARS.test(v) && !(n >= 12 && s.upper > 0 && s.lower > 0 && s.digit > 0 && PASSWORDISH.test(v) && !v.includes('?'))) return false
  if (NUMBERISH.test(v)) return s.digit >= 20 && !v.includes('.')
  const e = entropy(v)
  if (LOWER_IDENT.test(v) && (n < 20 || e < 3.6)) return false
  const letters = s.upper + s.lower
  if (e < 2.6) return false
  if (strong) return n >= 16 && s.digit > 0 && letters > 0 && e >= 3.5 && !WORDY.test(v)
  if (s.digit > 0 && letters > 0) return true
  if (s.upper > 0 && s.lower > 0) {
    // random mixed case, not a CamelCaseIdentifier: count case changes
    let flips = 0
    for (let i = 1; i < n; i++) {
      const a = v.charCodeAt(i - 1)
      const b = v.charCodeAt(i)
      if (a >= 97 && a <= 122 && b >= 65 && b <= 90) flips++
    }
    return n >= 12 && flips * 6 >= n
  }
  // one case only, no digits: a long random run
  return n >= 20 && e >= 3.8
}

const KEY_CHAR = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46
const SP = (c: number): boolean => c === 32 || c === 9
const QUOTE = (c: number): boolean => c === 34 || c === 39 || c === 96
const TYPE_ANNOTATION = /[ \t]*:?[ \t]*(?:string|str|String|const|final|char\s*\*|&str|\[\]byte|SecureString|bytes)[ \t]*(?=[:?+]?=[^=])/y

/**
 * Finds the value assigned to the secret-named key around the keyword at text[kwStart, kwEnd).
 * On success writes the value's span to out[0], out[1] and returns true; out[2] is always where
 * the search goes on.
 */
export function locateAssignment(text: string, kwStart: number, kwEnd: number, out: Int32Array): boolean {
  const n = text.length
  let ks = kwStart
  while (ks > 0 && KEY_CHAR(text.charCodeAt(ks - 1))) ks--
  let ke = kwEnd
  while (ke < n && KEY_CHAR(text.charCodeAt(ke))) ke++
  out[2] = ke
  // `key.` at the end of a sentence, `key-` before a space: not part of the key
  while (ke > kwEnd && (text.charCodeAt(ke - 1) === 46 || text.charCodeAt(ke - 1) === 45)) ke--
  const before = ks > 0 ? text.charCodeAt(ks - 1) : 0
  // a `$` sigil (PHP, PowerShell) or `@` (properties) belongs to the key; `--flag` too
  let keyQuoted = false
  if (QUOTE(before)) keyQuoted = true
  else if (before === 92 && ks > 1 && QUOTE(text.charCodeAt(ks - 2))) keyQuoted = true
  const xml = before === 60 // <password>
  let i = ke
  // closing quote of the key (maybe escaped), and `]` of ENV["X"]
  if (i < n && text.charCodeAt(i) === 92 && i + 1 < n && QUOTE(text.charCodeAt(i + 1))) i += 2
  else if (i < n && QUOTE(text.charCodeAt(i))) i++
  if (i < n && text.charCodeAt(i) === 93) i++
  if (xml) {
    if (i >= n || text.charCodeAt(i) !== 62) return false
    i++
    // the value, possibly on its own lines, up to the closing tag
    let vs = i
    while (vs < n && (SP(text.charCodeAt(vs)) || text.charCodeAt(vs) === 10 || text.charCodeAt(vs) === 13)) vs++
    let ve = text.indexOf('<', vs)
    if (ve < 0 || text.charCodeAt(ve + 1) !== 47) return false
    while (ve > vs && /\s/.test(text[ve - 1])) ve--
    if (text.slice(vs, ve).includes('\n')) return false
    return accept(text, ks, ke, vs, ve, false, out)
  }
  TYPE_ANNOTATION.lastIndex = i
  if (TYPE_ANNOTATION.test(text)) i = TYPE_ANNOTATION.lastIndex
  const opStart = i
  while (i < n && SP(text.charCodeAt(i))) i++
  let strong = false
  const c0 = i < n ? text.charCodeAt(i) : 0
  const c1 = i + 1 < n ? text.charCodeAt(i + 1) : 0
  const c2 = i + 2 < n ? text.charCodeAt(i + 2) : 0
  if (c0 === 58 && c1 === 58 && c2 === 61)
    i += 3 // ::=
  else if ((c0 === 58 || c0 === 63 || c0 === 43 || c0 === 33) && c1 === 61) {
    if (c0 === 33) return false // !=
    i += 2 // := ?= +=
  } else if (c0 === 61 && c1 === 62)
    i += 2 // =>
  else if (c0 === 45 && c1 === 62)
    i += 2 // ->
  else if (c0 === 60 && c1 === 45)
    i += 2 // <-
  else if (c0 === 61) {
    if (c1 === 61) return false // ==
    i += 1
  } else if (c0 === 58) i += 1
  else if (c0 === 44 && keyQuoted)
    i += 1 // setProperty("k", "v")
  else if (c0 === 45 && SP(c1) && i > opStart)
    i += 1 // `token - 'v'`
  else if (i > opStart)
    strong = true // only blanks between key and value
  else return false
  while (i < n && SP(text.charCodeAt(i))) i++
  if (i >= n) return false
  let q = text.charCodeAt(i)
  let escaped = false
  if (q === 92 && i + 1 < n && QUOTE(text.charCodeAt(i + 1))) {
    escaped = true
    q = text.charCodeAt(i + 1)
    i += 2
  } else if (QUOTE(q)) i++
  else q = 0
  const vs = i
  let ve = i
  if (q !== 0) {
    while (ve < n) {
      const c = text.charCodeAt(ve)
      if (c === 10 || c === 13) break
      if (escaped ? c === 92 : c === q && text.charCodeAt(ve - 1) !== 92) break
      ve++
    }
    if (ve >= n || text.charCodeAt(ve) !== (escaped ? 92 : q)) {
      // no closing quote on this line: stop at the first blank instead
      ve = vs
      while (ve < n && !/[\s"'`]/.test(text[ve])) ve++
    }
    if (strong) strong = false // a quoted value after a bare key is a deliberate literal
  } else {
    if (strong && (c0 === 123 || c0 === 40 || c0 === 91)) return false
    while (ve < n) {
      const c = text.charCodeAt(ve)
      if (c <= 32 || c === 34 || c === 39 || c === 96 || c === 44 || c === 59 || c === 38 || c === 60 || c === 62 || c === 124 || c === 41 || c === 125 || c === 93) break
      ve++
    }
    // sentence punctuation after an unquoted value
    while (ve > vs && (text.charCodeAt(ve - 1) === 46 || text.charCodeAt(ve - 1) === 58)) ve--
  }
  out[2] = ve > ke ? ve : ke
  return accept(text, ks, ke, vs, ve, strong, out)
}

/** The key (text[ks, ke)) is classified only once a value is there: most keyword hits in prose end before that. */
function accept(text: string, ks: number, ke: number, vs: number, ve: number, strong: boolean, out: Int32Array): boolean {
  if (ve <= vs) return false
  // a bare value after blanks must be a long token: cheap length check before anything else
  if (strong && ve - vs < 16) return false
  const cls = classifyKey(text.slice(ks, ke))
  if (cls === KeyClass.None) return false
  if (!credentialValue(text.slice(vs, ve), cls, strong)) return false
  out[0] = vs
  out[1] = ve
  return true
}
