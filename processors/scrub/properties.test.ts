import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FactCodec, type RawFact } from '../../schemas/index.js'
import { buildCorpus } from '../../bench/corpus/generate.js'
import { defaultManifest, scrubStage, versioned } from './index.js'
import { cfg, TEST_KEY } from '../../test/fixtures/scrub.js'

const codec = new FactCodec()
const bytes = (f: RawFact): string => Buffer.from(codec.encode(f).data).toString('hex')
const defaults = versioned(defaultManifest({ hashKey: TEST_KEY }), 5)
const strict = cfg({
  unknownFields: 'drop',
  fields: [
    { path: 'attrs.user', rule: 'hash' },
    { path: 'attrs.note', rule: 'truncate', maxLength: 24 },
    { path: 'message', rule: 'truncate', maxLength: 40 },
    { path: 'labels.*', rule: 'allow' },
    { path: 'attrs.a*', rule: 'mask' },
  ],
  detectors: { ipv4: { action: 'hash' }, email: { action: 'hash' } },
})

// Text that is likely to hold and border secrets: arbitrary strings, digit runs, and real secrets.
const SECRET_SAMPLES = buildCorpus({ seed: 5, perPair: 1 }).filter((s) => s.secret !== '' && s.kind !== 'attr')
const secretClause = fc.integer({ min: 0, max: SECRET_SAMPLES.length - 1 }).map((i) => ({ text: SECRET_SAMPLES[i].message, secret: SECRET_SAMPLES[i].secret }))
const chunk = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.stringMatching(/^[0-9 .:-]{0,24}$/),
  fc.constantFrom('a@b.co', '10.0.0.1', '[email]', 'hmac:', '…', '\u{1F600}', 'Bearer ', 'password='),
  secretClause.map((c) => c.text),
)
const text = fc.array(chunk, { maxLength: 5 }).map((xs) => xs.join(' '))
const map = fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('user', 'note', 'alpha', 'password', 'a@b.co')), text, { maxKeys: 5 })
const ts = fc.integer({ min: 0, max: 2 ** 47 })
const id = fc.string({ minLength: 1, maxLength: 20 })
const base = {
  source: fc.constant('web-3'),
  lineage: fc.constant([]),
  producer: fc.constant('edge'),
  config: fc.constant({}),
  explain: fc.constant(null),
  redactions: fc.constant([]),
}
const rawFact: fc.Arbitrary<RawFact> = fc.oneof(
  fc.record({
    ...base,
    id,
    ts,
    lane: fc.constant('routine'),
    kind: fc.constant('event' as const),
    payload: fc.record({ type: fc.string({ maxLength: 10 }), message: text, attrs: map }),
  }),
  fc.record({
    ...base,
    id,
    ts,
    lane: fc.constant('routine'),
    kind: fc.constant('diag' as const),
    payload: fc.record({ component: fc.string({ maxLength: 10 }), message: text, attrs: map }),
  }),
  fc.record({
    ...base,
    id,
    ts,
    lane: fc.constant('alert'),
    kind: fc.constant('alert' as const),
    payload: fc.record({ rule: fc.string({ maxLength: 10 }), severity: fc.constant('high'), message: text, attrs: map }),
  }),
  fc.record({
    ...base,
    id,
    ts,
    lane: fc.constant('routine'),
    kind: fc.constant('metric' as const),
    payload: fc.record({ name: fc.string({ maxLength: 10 }), value: fc.double({ noNaN: true }), labels: map }),
  }),
)

describe('scrub properties', () => {
  it('is deterministic: same fact and revision give byte-identical Avro, warm caches or not', () => {
    fc.assert(
      fc.property(rawFact, (f) => {
        for (const c of [defaults, strict]) {
          const a = scrubStage.step(null, f, c)
          const fresh = versioned(defaultManifest({ hashKey: TEST_KEY }), 5)
          const b = scrubStage.step(null, f, c === defaults ? fresh : c)
          expect(b.rejected).toEqual(a.rejected)
          if (!a.rejected) expect(bytes(b.out[0] as RawFact)).toBe(bytes(a.out[0] as RawFact))
        }
      }),
      { numRuns: 150, seed: 1 },
    )
    // 300 cold manifests (each compiles the ~400-format catalogue): 242 s at load 25 on 2 cores.
  }, 900_000)

  it('never throws, on arbitrary values or arbitrary facts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          rawFact,
          rawFact.map((f) => ({ ...f, payload: { ...f.payload, attrs: { x: 1 } } })),
        ),
        (x) => {
          const r = scrubStage.step(null, x as RawFact, defaults)
          expect(r.out.length + (r.rejected ? 1 : 0)).toBe(1)
          if (r.rejected) expect(r.rejected.reason).not.toBe('stage_error')
        },
      ),
      { numRuns: 400, seed: 2 },
    )
  })

  it('a generated secret embedded anywhere in a message or attr never survives', () => {
    const sep = fc.constantFrom(' ', '\n', '\t', ', ', '; ', '"', "'", '(', ')', '<', '>', '|', ' : ', ' = ')
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), sep, secretClause, sep, fc.string({ maxLength: 40 }), (pre, s1, clause, s2, post) => {
        const message = `${pre}${s1}${clause.text}${s2}${post}`
        const f: RawFact = {
          id: 'e',
          ts: 1,
          source: 's',
          lane: 'routine',
          kind: 'event',
          payload: { type: 't', message, attrs: { detail: message } },
          lineage: [],
          producer: 'edge',
          config: {},
          explain: null,
          redactions: [],
        }
        for (const c of [defaults, strict]) {
          const r = scrubStage.step(null, f, c)
          const out = JSON.stringify(r.out[0]?.payload ?? null)
          expect(out).not.toContain(JSON.stringify(clause.secret).slice(1, -1))
        }
      }),
      { numRuns: 600, seed: 3 },
    )
  })

  it('is idempotent: scrubbing a scrubbed fact changes nothing further', () => {
    fc.assert(
      fc.property(rawFact, (f) => {
        for (const c of [defaults, strict]) {
          const once = scrubStage.step(null, f, c)
          if (once.rejected) continue
          const first = once.out[0] as RawFact
          const twice = scrubStage.step(null, first, c)
          expect(twice.rejected).toBeUndefined()
          const second = twice.out[0] as RawFact
          expect(second.payload).toEqual(first.payload)
          expect(second.redactions).toEqual(first.redactions)
          expect(second.explain).toMatch(/^nothing to redact/)
        }
      }),
      { numRuns: 300, seed: 4 },
    )
  })
})
