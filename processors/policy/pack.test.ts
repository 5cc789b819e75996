import { describe, expect, it } from 'vitest'
import { defaultPack, isPolicyError, loadPolicyPack, parseDuration, PolicyErrorCode } from './index.js'
import { compileGlob, compileSubject } from './pattern.js'
import { compileArgs, compileTemplate, render, renderArgs } from './template.js'
import { viewOf } from './view.js'
import { anomaly } from '../../test/fixtures/policy.js'

const errorsOf = (text: string, opts = {}): string[] => {
  const r = loadPolicyPack(text, opts)
  if (r.ok) throw new Error('expected the pack to be refused')
  expect(isPolicyError(r.error)).toBe(true)
  return [...r.error.issues]
}

describe('loadPolicyPack', () => {
  it('loads the default pack, frozen, with its rules in file order', () => {
    const r = defaultPack({ knownVerbs: ['set_mode', 'throttle_job', 'quarantine_artifact'] })
    expect(r.ok).toBe(true)
    if (!r.ok) return
    const p = r.value
    expect(p.name).toBe('default')
    expect(p.rules.map((x) => x.name)).toEqual(['critical-cpu-throttle', 'secret-leak-quarantine', 'secret-leak-alert', 'drift-alert', 'high-anomaly-alert', 'high-alert'])
    expect(Object.isFrozen(p)).toBe(true)
    expect(Object.isFrozen(p.rules[0])).toBe(true)
    expect(p.verbs.quarantine_artifact).toEqual({ human: true, ttlMs: 3_600_000, signatures: ['issuer', 'operator'] })
    expect(p.rules[0].rate).toEqual({ capacity: 1, intervalMs: 600_000, text: '1 per 10m' })
    expect(p.rules[0].suppressMs).toBe(600_000)
  })

  it('accepts JSON as well as YAML', () => {
    const r = loadPolicyPack(JSON.stringify({ name: 'j', rules: [{ name: 'all', then: 'alert' }] }))
    expect(r.ok && r.value.rules[0].outcome).toBe('alert')
  })

  it('names the rule and field when a rule is wrong', () => {
    const issues = errorsOf(`
name: p
rules:
  - name: fine
    then: alert
  - name: throttle-it
    when: { severity: huge }
    then: { outcome: act }
`)
    expect(issues.some((i) => i.startsWith("rule 'throttle-it' (rules[1]) when.severity:"))).toBe(true)
  })

  it('requires a verb for act and propose, and refuses verbs on alert rules', () => {
    const issues = errorsOf(`
name: p
rules:
  - { name: a, then: { outcome: act } }
  - { name: b, then: { outcome: alert, verb: set_mode }, rateLimit: { max: 1, per: 1m } }
`)
    expect(issues).toContain("rule 'a' (rules[0]) then.verb: outcome 'act' needs a verb (e.g. throttle_job)")
    expect(issues.some((i) => i.startsWith("rule 'b' (rules[1]) then.verb: only used with outcome act or propose"))).toBe(true)
    expect(issues.some((i) => i.startsWith("rule 'b' (rules[1]) rateLimit:"))).toBe(true)
  })

  it('refuses duplicate rule names, unknown template fields, bad subject patterns and unknown verbs', () => {
    const issues = errorsOf(
      `
name: p
rules:
  - { name: x, then: alert }
  - { name: x, then: alert }
  - { name: t, then: { outcome: act, verb: throttle_job, args: { job: '{labels.job}', who: '{hostname}' } } }
  - { name: s, when: { subject: 'anomaly.>.x' }, then: alert }
  - { name: v, then: { outcome: act, verb: reboot } }
`,
      { knownVerbs: ['throttle_job'] },
    )
    expect(issues.some((i) => i.startsWith("rule 'x' (rules[1]) name:"))).toBe(true)
    expect(issues.some((i) => i.startsWith("rule 't' (rules[2]) then.args:") && i.includes('{hostname}'))).toBe(true)
    expect(issues.some((i) => i.startsWith("rule 's' (rules[3]) when.subject:") && i.includes("'>' may only be the last token"))).toBe(true)
    expect(issues.some((i) => i.startsWith("rule 'v' (rules[4]) then.verb: unknown verb 'reboot'"))).toBe(true)
  })

  it('reports syntax errors and unknown fields with stable codes', () => {
    const bad = loadPolicyPack('name: [unclosed')
    expect(!bad.ok && bad.error.code).toBe(PolicyErrorCode.Syntax)
    const issues = errorsOf('name: p\nrulez: []\nrules: [{ name: a, then: alert }]')
    expect(issues).toContain("(pack): unknown field(s) 'rulez'")
    expect(errorsOf('name: p\nrules: [{ name: a, then: alert, suppress: 10 minutes }]')[0]).toMatch(/^rule 'a' \(rules\[0\]\) suppress: '10 minutes' is not a duration/)
  })
})

describe('patterns and templates', () => {
  it('globs: * is any run, ? one character, the rest literal', () => {
    expect(compileGlob('web-*').test('web-3')).toBe(true)
    expect(compileGlob('web-*').test('db-1')).toBe(false)
    expect(compileGlob('cpu.*').test('cpu.load')).toBe(true)
    expect(compileGlob('cpu.*').test('cpuxload')).toBe(false)
    expect(compileGlob('w?b').test('web')).toBe(true)
    expect(compileGlob('a+b').test('aab')).toBe(false)
  })

  it('subjects: * is one token, > the rest', () => {
    const m = compileSubject('anomaly.*.web-3')
    expect(m.ok && m.value.test('anomaly.critical.web-3')).toBe(true)
    expect(m.ok && m.value.test('anomaly.critical.web-4')).toBe(false)
    const g = compileSubject('alert.>')
    expect(g.ok && g.value.test('alert.high.web-3')).toBe(true)
    expect(g.ok && g.value.test('alert')).toBe(false)
    expect(compileSubject('a.we*b').ok).toBe(false)
  })

  it('renders templates from the fact, canonical args with escaping, undefined when a field is missing', () => {
    const v = viewOf(anomaly('a1', 0, { labels: { job: 'b"7' } }))
    if (!v.ok) throw new Error(v.error)
    const t = compileTemplate('{source}/{labels.job} {{x}}')
    expect(t.ok && render(t.value, v.value)).toBe('web-3/b"7 {x}')
    const a = compileArgs({ z: 1, job: '{labels.job}', nested: { s: '{severity}' } })
    if (!a.ok) throw new Error(a.error)
    const out = renderArgs(a.value, v.value)
    expect(out).toBe('{"job":"b\\"7","nested":{"s":"critical"},"z":1}')
    expect(JSON.parse(out!)).toEqual({ z: 1, job: 'b"7', nested: { s: 'critical' } })
    const missing = compileArgs({ path: '{labels.path}' })
    expect(missing.ok && renderArgs(missing.value, v.value)).toBe(undefined)
  })

  it('parses durations', () => {
    expect(parseDuration('10m')).toBe(600_000)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration(250)).toBe(250)
    expect(parseDuration('ten')).toBe(undefined)
    expect(parseDuration(-1)).toBe(undefined)
  })
})
