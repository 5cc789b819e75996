import { describe, expect, it } from 'vitest'
import { DETECTOR_NAMES, compileManifest, defaultManifest, defaultManifestText, isManifestError, loadManifest, ScrubErrorCode, type CompiledManifest } from './index.js'

const KEY = 'test-hash-key-0123456789abcdef'

function errorOf(text: string, opts = {}): { code: string; issues: readonly string[] } {
  const r = loadManifest(text, opts)
  if (r.ok) throw new Error('expected the manifest to be refused')
  expect(isManifestError(r.error)).toBe(true)
  expect(r.error.name).toBe('ManifestError')
  expect(r.error.reason).toBe('invalid')
  return { code: r.error.code, issues: r.error.issues }
}

describe('loadManifest', () => {
  it('loads YAML and JSON alike, with defaults filled in and the result frozen', () => {
    const yaml = loadManifest('name: t\nfields:\n  - { path: attrs.user, rule: hash }\n', { hashKey: KEY })
    const json = loadManifest('{"name":"t","fields":[{"path":"attrs.user","rule":"hash"}]}', { hashKey: KEY })
    expect(yaml.ok && json.ok).toBe(true)
    const m = (yaml as { value: CompiledManifest }).value
    expect(m.name).toBe('t')
    expect(m.unknownFields).toBe('keep')
    expect(m.hashing).toBe('keyed')
    expect(m.ruleCount).toBe(1)
    expect(m.detectors).toContain('email')
    expect(m.detectors).toHaveLength(DETECTOR_NAMES.length)
    expect(Object.isFrozen(m)).toBe(true)
    expect(m.limits.maxFieldLength).toBe(65536)
  })

  it('never serialises the hash key', () => {
    const r = loadManifest('fields: [{ path: attrs.user, rule: hash }]', { hashKey: KEY })
    if (!r.ok) throw r.error
    expect(JSON.stringify(r.value)).not.toContain(KEY)
  })

  it('reports YAML syntax errors with a line number', () => {
    const e = errorOf('name: t\nfields: [\n  { path: attrs.user, rule: hash\n')
    expect(e.code).toBe(ScrubErrorCode.ManifestSyntax)
    expect(e.issues[0]).toMatch(/^line \d+, column \d+: /)
  })

  it('names the rule when a rule is invalid', () => {
    const e = errorOf('fields:\n  - { path: attrs.user, rule: allow }\n  - { path: message, rule: truncate }\n')
    expect(e.code).toBe(ScrubErrorCode.ManifestInvalid)
    expect(e.issues).toHaveLength(1)
    expect(e.issues[0]).toContain('fields[1] (message → truncate).maxLength')
  })

  it('names the rule for an unknown rule name and lists the valid ones', () => {
    const e = errorOf('fields:\n  - { path: attrs.user, rule: scramble }\n')
    expect(e.issues[0]).toBe('fields[0] (attrs.user → scramble).rule: must be one of allow, drop, mask, hash, truncate')
  })

  it('refuses misspelt keys instead of ignoring them', () => {
    const e = errorOf('fields:\n  - { path: attrs.user, rule: mask, placeholdr: "[x]" }\nunknownFeilds: drop\n')
    expect(e.issues.join('\n')).toContain("fields[0] (attrs.user → mask): unknown field(s) 'placeholdr'")
    expect(e.issues.join('\n')).toContain("(manifest): unknown field(s) 'unknownFeilds'")
  })

  it('names the detector for a bad detector setting, and refuses unknown detectors', () => {
    const e = errorOf('detectors:\n  email: { action: scramble }\n  ssn: true\n')
    const all = e.issues.join('\n')
    expect(all).toContain('detectors.email.action')
    expect(all).toContain("unknown field(s) 'ssn'")
  })

  it('names the detector and index of an invalid allow pattern', () => {
    const e = errorOf('detectors:\n  ipv4: { allowPatterns: ["10\\\\.0\\\\..*", "(unclosed"] }\n')
    expect(e.code).toBe(ScrubErrorCode.ManifestRule)
    expect(e.issues[0]).toMatch(/^detectors\.ipv4\.allowPatterns\[1\]: invalid regular expression/)
  })

  it('names the rule for a path outside the payload', () => {
    const e = errorOf('fields:\n  - { path: attr.user, rule: drop }\n  - { path: severity, rule: mask }\n  - { path: attrs, rule: drop }\n')
    expect(e.issues[0]).toContain("fields[0] (attr.user → drop).path: unknown map 'attr'")
    expect(e.issues[1]).toContain("fields[1] (severity → mask).path: unknown field 'severity'")
    expect(e.issues[2]).toContain("'attrs' names a whole map")
  })

  it('refuses two rules for the same path and kinds, naming both', () => {
    const e = errorOf('fields:\n  - { path: attrs.user, rule: drop }\n  - { path: ATTRS.User, rule: mask }\n')
    expect(e.issues[0]).toContain('fields[1] (ATTRS.User → mask)')
    expect(e.issues[0]).toContain('fields[0] (attrs.user → drop)')
    expect(loadManifest('fields:\n  - { path: attrs.user, rule: drop, kinds: [event] }\n  - { path: attrs.user, rule: mask, kinds: [alert] }\n').ok).toBe(true)
  })

  it('refuses a mask placeholder that a detector would detect again', () => {
    const e = errorOf('fields:\n  - { path: attrs.x, rule: mask, placeholder: "gone@acme.io" }\n')
    expect(e.issues[0]).toContain('fields[0] (attrs.x → mask).placeholder')
    expect(e.issues[0]).toContain('email')
  })

  it('refuses custom detectors that match the empty string or their own placeholder', () => {
    expect(errorOf('detectors:\n  custom:\n    - { name: emp, pattern: "E?" }\n').issues[0]).toContain('detectors.custom[0] (emp).pattern: matches the empty string')
    expect(errorOf('detectors:\n  custom:\n    - { name: word, pattern: "\\\\[\\\\w+\\\\]" }\n').issues[0]).toContain('detectors.word: matches the placeholder')
    expect(errorOf('detectors:\n  custom:\n    - { name: email, pattern: "x" }\n').issues[0]).toContain('must not reuse a built-in detector name')
  })

  it('requires a hash key for hash rules, naming them and the variable to set', () => {
    const e = errorOf('hashKeyEnv: SCRUB_TEST_KEY\nfields:\n  - { path: attrs.user, rule: hash }\n', { env: {} })
    expect(e.code).toBe(ScrubErrorCode.HashKeyMissing)
    expect(e.issues[0]).toContain('fields[0] (attrs.user → hash)')
    expect(e.issues[0]).toContain('SCRUB_TEST_KEY')
    expect(errorOf('fields: [{ path: attrs.user, rule: hash }]', { hashKey: 'short' }).issues[0]).toContain('fewer than 16')
  })

  it('reads the key from hashKeyEnv, or degrades to masking with a warning when told to', () => {
    const fromEnv = loadManifest('hashKeyEnv: K\nfields: [{ path: attrs.user, rule: hash }]', { env: { K: KEY } })
    expect(fromEnv.ok && fromEnv.value.hashing).toBe('keyed')
    const degraded = loadManifest('hashKeyEnv: K\nmissingHashKey: mask\nfields: [{ path: attrs.user, rule: hash }]', { env: {} })
    if (!degraded.ok) throw degraded.error
    expect(degraded.value.hashing).toBe('masked')
    expect(degraded.value.warnings[0]).toContain('environment variable K is not set')
  })

  it('compiles an already-parsed object', () => {
    const r = compileManifest({ unknownFields: 'drop', detectors: { phone: false } })
    if (!r.ok) throw r.error
    expect(r.value.unknownFields).toBe('drop')
    expect(r.value.detectors).not.toContain('phone')
  })
})

describe('the default manifest', () => {
  it('ships beside the code and compiles', () => {
    expect(defaultManifestText()).toContain('name: default')
    const m = defaultManifest({ hashKey: KEY })
    expect(m.name).toBe('default')
    expect(m.hashing).toBe('keyed')

    expect(m.detectors.length).toBeGreaterThanOrEqual(DETECTOR_NAMES.length + 200)
    expect(m.detectors.slice(0, 5)).toEqual(['pem', 'jwt', 'jwt-base64', 'aws-access-key', 'aws-secret-key'])
  })

  it('masks instead of hashing when no key is configured, and says so', () => {
    const m = defaultManifest({ env: {} })
    expect(m.hashing).toBe('masked')
    expect(m.warnings.join(' ')).toContain('BEN_SCRUB_HASH_KEY')
  })
})
