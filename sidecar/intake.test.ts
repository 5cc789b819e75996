import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { contentId, FactCodec, Header, type RawFact } from '../schemas/index.js'
import { Subjects } from '../streams/index.js'
import { defaultManifest, loadManifest, versioned } from '../processors/scrub/index.js'
import { Intake, isRecord, type Prepared } from './intake.js'
import { frameRecord, parseRecord } from './record.js'
import { AcceptReason } from './errors.js'

const codec = new FactCodec()
const manifest = versioned(defaultManifest({ hashKey: 'a-test-hash-key-of-some-length' }), 7)
const intake = new Intake('web-3', new Subjects(), codec, () => manifest)
const TS = 1_763_700_000_000

/** The fact inside a prepared record, decoded with the schema its headers name. */
function open(p: Prepared): { subject: string; headers: string; fact: RawFact } {
  if (!isRecord(p)) throw new Error(`refused: ${p.reason}: ${p.message}`)
  const rec = parseRecord(p)
  if (!rec) throw new Error('not a record')
  const headers = Buffer.from(rec.headers).toString('latin1')
  const fp = /Ben-Schema-Fp: (\S+)/.exec(headers)![1]
  const r = codec.decode(rec.data, fp)
  if (!r.ok) throw new Error(r.error.message)
  expect(rec.id).toBe(`${r.value.source}:${r.value.id}`) // the message id is bound to the source
  return { subject: rec.subject, headers, fact: r.value as RawFact }
}

describe('sidecar intake', () => {
  it('turns an edge metric into a record for ben.fact.metric.<id>, with the content id and the sidecar as producer', () => {
    const input = { lane: 'metric', ts: TS, name: 'cpu.load', value: 0.73, labels: { job: 'batch-7' } }
    const { subject, headers, fact } = open(intake.prepare(input))
    expect(subject).toBe('ben.fact.metric.web-3')
    expect(fact).toMatchObject({ source: 'web-3', kind: 'metric', lane: 'routine', producer: 'web-3', config: { 'ben-redaction': 7 }, lineage: [], explain: null, redactions: [] })
    expect(fact.id).toBe(contentId('metric', 'web-3', TS, { name: 'cpu.load', value: 0.73, labels: { job: 'batch-7' } }))
    expect(headers).toContain(`${Header.MsgId}: web-3:${fact.id}\r\n`)
    expect(headers).toContain(`${Header.Schema}: ben.Metric\r\n`)
    expect(headers.endsWith('\r\n\r\n')).toBe(true)
  })

  it('keeps a given id; the same line twice gives byte-identical records', () => {
    const line = JSON.stringify({ lane: 'alert', source: 'web-3', ts: TS, id: 'edr-1', rule: 'edr.exec', severity: 'high', message: 'x', attrs: {} })
    const a = intake.prepareLine(line)
    const b = intake.prepareLine(line)
    expect(open(a).fact.id).toBe('edr-1')
    expect(open(a).subject).toBe('ben.fact.alert.web-3')
    expect(Buffer.compare(a as Buffer, b as Buffer)).toBe(0)
  })

  it('scrubs before anything is written: secrets never reach the record, redactions and explain say what happened', () => {
    const input = { lane: 'event', ts: TS, type: 'auth.login', message: 'login ok for alice@example.org from 10.1.2.3', attrs: { password: 'hunter2', user: 'alice' } }
    const p = intake.prepare(input)
    const raw = Buffer.from(p as Buffer).toString('latin1')
    expect(raw).not.toContain('alice@example.org')
    expect(raw).not.toContain('hunter2')
    const { fact } = open(p)
    expect(fact.kind).toBe('event')
    expect(fact.redactions.length).toBeGreaterThan(0)
    expect(fact.explain).toMatch(/^sidecar web-3 scrubbed .* \(ben-redaction revision 7\)$/)
    // the id is the edge content id (of the line as sent), so a resend de-duplicates
    expect(fact.id).toBe(contentId('event', 'web-3', TS, { type: 'auth.login', message: input.message, attrs: input.attrs }))
  })

  it('refuses another source, malformed input, non-JSON lines and facts the manifest will not scrub', () => {
    const wrong = intake.prepare({ lane: 'metric', source: 'web-4', ts: TS, name: 'x', value: 1 })
    expect(wrong).toMatchObject({ reason: AcceptReason.WrongSource })
    expect(intake.prepare({ lane: 'metric', ts: TS, name: 'x' })).toMatchObject({ reason: AcceptReason.Invalid, message: expect.stringContaining('value') })
    expect(intake.prepare(null)).toMatchObject({ reason: AcceptReason.Invalid })
    expect(intake.prepareLine('{"lane":')).toMatchObject({ reason: AcceptReason.NotJson })
    const tight = loadManifest('version: 1\nname: tight\nlimits: { maxFieldLength: 64, maxFields: 4, maxTotalLength: 128 }\n')
    if (!tight.ok) throw tight.error
    const strict = new Intake('web-3', new Subjects(), codec, () => versioned(tight.value, 2))
    expect(strict.prepare({ lane: 'event', ts: TS, type: 't', message: 'y'.repeat(200), attrs: {} })).toMatchObject({
      reason: AcceptReason.ScrubRefused,
      message: expect.stringContaining('scrub_too_large'),
    })
  })

  it('never throws, and gives the same bytes for the same input (property)', () => {
    const edge = fc.record({
      lane: fc.constantFrom('metric', 'event', 'diag', 'alert'),
      source: fc.option(fc.constantFrom('web-3', 'web-4'), { nil: undefined }),
      ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double()),
      name: fc.string(),
      value: fc.double(),
      type: fc.string(),
      message: fc.string(),
      severity: fc.constantFrom('low', 'high', 'bad'),
      rule: fc.string(),
      component: fc.string(),
      attrs: fc.dictionary(fc.string(), fc.string()),
    })
    fc.assert(
      fc.property(fc.oneof(edge, fc.anything()), (input) => {
        const a = intake.prepare(input)
        const b = intake.prepare(input)
        if (isRecord(a)) {
          expect(isRecord(b) && Buffer.compare(a, b) === 0).toBe(true)
          open(a) // decodes back
        } else expect(b).toEqual(a)
      }),
      { numRuns: 300 },
    )
  })
})

describe('sidecar intake over a run of facts', () => {
  it('frames each fact as a fresh intake does, whatever came before it and whatever revision it came under', () => {
    // What an intake keeps from one fact to the next (the last explain sentence) must never show:
    // facts that redact the same things, other things, nothing, and a revision change midway.
    const texts = ['login ok for alice@example.org from 10.1.2.3', 'login ok for bob@example.org', 'nothing to hide', 'from 10.9.9.9 and 10.9.9.8']
    // (25 to 34 say the same across the revision change at 30)
    const text = (i: number) => texts[i >= 25 && i < 35 ? 0 : (i * 7) % texts.length]
    const inputs = Array.from({ length: 60 }, (_, i) => ({
      lane: 'event',
      ts: TS + i,
      type: 'log',
      message: text(i),
      attrs: i % 5 === 0 && (i < 25 || i >= 35) ? { user: `u${i}` } : {},
    }))
    let current = manifest
    const long = new Intake('web-3', new Subjects(), codec, () => current)
    for (const [i, input] of inputs.entries()) {
      if (i === 30) current = versioned(manifest.value, 8)
      const fresh = new Intake('web-3', new Subjects(), codec, () => current)
      const a = long.prepare(input)
      expect(Buffer.compare(a as Buffer, fresh.prepare(input) as Buffer)).toBe(0)
      const { fact } = open(a)
      if (fact.redactions.length > 0) expect(fact.explain).toMatch(new RegExp(`\\(ben-redaction revision ${i < 30 ? 7 : 8}\\)$`))
      else expect(fact.explain).toBeNull()
    }
  })
})

describe('sidecar record', () => {
  it('frames and parses back; refuses what is not a record', () => {
    const enc = { data: new Uint8Array([1, 2, 3]), id: 'abc', schema: 'ben.Metric', fingerprint: '00ff' }
    const r = parseRecord(frameRecord('ben.fact.metric.web', enc))!
    expect(r.subject).toBe('ben.fact.metric.web')
    expect(r.id).toBe('web:abc')
    expect(Buffer.from(r.headers).toString('latin1')).toBe('NATS/1.0\r\nNats-Msg-Id: web:abc\r\nBen-Schema: ben.Metric\r\nBen-Schema-Fp: 00ff\r\n\r\n')
    expect([...r.data]).toEqual([1, 2, 3])
    expect(parseRecord(new Uint8Array([9, 0, 0]))).toBeNull()
    expect(parseRecord(new Uint8Array([1, 200, 0, 1, 2]))).toBeNull()
  })

  it('refuses what would be stored rewritten or ahead of its arrival: U+FFFD from invalid UTF-8, ts after 2299, ts an hour ahead', () => {
    const line = Buffer.concat([Buffer.from('{"lane":"event","ts":1763700000000,"type":"t","message":"x'), Buffer.from([0xff]), Buffer.from('","attrs":{}}')]).toString('utf8')
    expect(intake.prepareLine(line)).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/^message: holds U\+FFFD/) })
    expect(intake.prepareLine(JSON.stringify({ lane: 'metric', ts: Date.UTC(2300, 0, 1), name: 'x', value: 1 }))).toMatchObject({
      reason: 'invalid',
      message: expect.stringMatching(/^ts: .*2299/),
    })
    expect(intake.prepareLine(JSON.stringify({ lane: 'metric', ts: Date.now() + 3_600_000, name: 'x', value: 1 }))).toMatchObject({
      reason: 'invalid',
      message: expect.stringMatching(/BEN_MAX_FUTURE_SKEW/),
    })
  })

  it("judges event time against the arrival time it is given (a batch's, read once), not the clock at each input", () => {
    const metric = (ts: number) => ({ lane: 'metric', ts, name: 'x', value: 1 })
    const arrived = TS - 3_600_000 // an hour before the facts' time: they are ahead of it
    expect(intake.prepare(metric(TS), arrived)).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/BEN_MAX_FUTURE_SKEW/) })
    expect(intake.prepareLine(JSON.stringify(metric(TS)), arrived)).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/BEN_MAX_FUTURE_SKEW/) })
    expect(isRecord(intake.prepare(metric(arrived + 60_000), arrived))).toBe(true) // within the skew
    expect(isRecord(intake.prepare(metric(TS)))).toBe(true) // no time given: now's
  })
})
