import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Fact, IncidentFact } from '../../schemas/index.js'
import { stepAll } from '../stage.js'
import { defaultIncidentConfig, incidentStage, narrate, type IncidentInput, type Narrative } from './index.js'
import { escapeMd } from './markdown.js'
import { ackFor, alert, anomaly, cfg, commandFor, decision, goldenScenario, MIN, T0 } from '../../test/fixtures/incident.js'

const GOLDEN = fileURLToPath(new URL('./__golden__/narrative.md', import.meta.url))

/** Runs the stage and returns every fact (inputs and transitions) plus the latest transition per incident. */
function story(inputs: readonly IncidentInput[], c = defaultIncidentConfig()): { facts: Fact[]; latest: IncidentFact[] } {
  const { out } = stepAll(incidentStage, inputs, c)
  const latest = new Map<string, IncidentFact>()
  for (const f of out as IncidentFact[]) latest.set(f.payload.incidentId, f)
  return { facts: [...inputs, ...out], latest: [...latest.values()] }
}

function citesOnlyInput(n: Narrative, facts: readonly Fact[], incident: IncidentFact): void {
  const ids = new Set([...facts.map((f) => f.id), incident.id])
  for (const s of n.sentences) {
    expect(s.factIds.length).toBeGreaterThan(0)
    for (const id of s.factIds) expect(ids.has(id)).toBe(true)
  }
  // Every compact citation in the markdown is the prefix of a cited id.
  const prefixes = new Set(n.sentences.flatMap((s) => s.factIds.map((id) => escapeMd(id.slice(0, 8)))))
  for (const m of n.markdown.matchAll(/\[([^\]]+)\]$/gm)) for (const p of m[1].replace(/ \+\d+ more$/, '').split(', ')) expect(prefixes.has(p)).toBe(true)
}

describe('narrate: golden scenario', () => {
  const facts = goldenScenario()
  const { facts: all, latest } = story(facts)
  const web3 = latest.find((f) => f.payload.entity.source === 'web-3') as IncidentFact

  it('the scenario resolves one web-3 incident holding all six facts', () => {
    expect(web3.payload).toMatchObject({ transition: 'resolved', severity: 'critical', entity: { source: 'web-3', job: 'batch-7' } })
    expect(web3.payload.factIds).toEqual(facts.slice(0, 6).map((f) => f.id))
  })

  it('matches __golden__/narrative.md byte for byte (UPDATE_GOLDEN=1 rewrites it)', () => {
    const n = narrate(all, web3)
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, n.markdown)
    expect(n.markdown).toBe(readFileSync(GOLDEN, 'utf8'))
  })

  it('tells what was seen, decided, signed and answered, and leaves the other host out', () => {
    const n = narrate(all, web3)
    const text = n.sentences.map((s) => s.text).join('\n')
    const [d, c, k] = [facts[3], facts[4], facts[5]] as [Fact, Extract<Fact, { kind: 'command' }>, Extract<Fact, { kind: 'ack' }>]
    expect(text).toContain('against a baseline of 0.31 ± 0.05: score 0.98 (threshold 0.5), severity critical')
    expect(text).toContain("rule 'critical-cpu-throttle' of pack 'default' at revision 3 decided act: throttle_job on web-3")
    expect(text).toContain('rate-limit allowed (1 per 10m for throttle_job on web-3: token taken, 0 left)')
    expect(text).toContain(`was issued for decision ${d.id.slice(0, 8)}: signed by issuer key ${c.payload.keyId}`)
    expect(text).toContain(`web-3 executed throttle_job (command ${c.payload.commandId}); the answer is signed with key ${k.payload.keyId}`)
    expect(text).not.toContain('disk.used')
    expect(n.sentences.find((s) => s.text.includes('was issued'))?.factIds).toEqual([c.id, d.id])
  })

  it('cites only facts it was given, every sentence cites at least one, and each sentence is in the markdown', () => {
    const n = narrate(all, web3)
    citesOnlyInput(n, all, web3)
    for (const s of n.sentences) expect(n.markdown).toContain(escapeMd(s.text))
  })

  it('uses event time only: the wall clock does not change a byte', () => {
    const a = narrate(all, web3).markdown
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2031-02-03T04:05:06Z'))
    expect(narrate(all, web3).markdown).toBe(a)
  })
  afterEach(() => vi.useRealTimers())

  it('stays complete when factIds were bounded: lineage brings back the decision, command and ack', () => {
    const bounded = { ...web3, payload: { ...web3.payload, factIds: [facts[2].id] } }
    const text = narrate(all, bounded)
      .sentences.map((s) => s.text)
      .join('\n')
    expect(text).toContain('web-3 executed throttle_job')
    expect(text).toContain("rule 'critical-cpu-throttle'")
  })
})

describe('narrate: other shapes', () => {
  it('a proposal without approval, suppressed repeats and an unanswered command are all said', () => {
    const a = anomaly('a1', T0)
    const p = decision('d1', T0 + 1000, { basis: ['a1'], outcome: 'propose' })
    const s = decision('d2', T0 + 2000, { basis: ['a2'], suppressed: 1, command: null })
    const a2 = anomaly('a2', T0 + 2000)
    const cmd = commandFor(p)
    const { facts, latest } = story([a, p, cmd, a2, s])
    const text = narrate(facts, latest[0])
      .sentences.map((x) => x.text)
      .join('\n')
    expect(text).toContain('was proposed for decision d1')
    expect(text).toContain('it needs issuer and operator signatures')
    expect(text).toContain(`No operator approved or rejected command ${cmd.payload.commandId} among these facts.`)
    expect(text).toContain("1 repeat of rule 'critical-cpu-throttle' (pack 'default', revision 3) was suppressed")
    expect(text).toContain('It was not resolved as of')
  })

  it('a decision blocked by a limit: the limit, its detail, and that no command was signed', () => {
    const base = decision('d1', T0 + 1000, { basis: ['a1'], outcome: 'alert' })
    const blocked = {
      ...base,
      payload: {
        ...base.payload,
        limits: [{ name: 'rate-limit', allowed: false, detail: '1 per 10m for throttle_job on web-3 is used up; the next token comes at 2025-11-21T04:50:00.000Z' }],
        reason: 'downgraded to alert',
      },
    }
    const { facts, latest } = story([anomaly('a1', T0), blocked])
    expect(latest[0].payload.title).toBe('Critical cpu.load anomaly on web-3 (job batch-7); throttle_job blocked by rate-limit.')
    const n = narrate(facts, latest[0])
    const text = n.sentences.map((x) => x.text).join('\n')
    expect(text).toContain('Limits: rate-limit blocked (1 per 10m for throttle_job on web-3 is used up; the next token comes at 2025-11-21T04:50:00.000Z).')
    expect(n.sentences.find((x) => x.text === 'No command was signed for this incident.')?.factIds).toEqual([latest[0].id, 'd1'])
  })

  it('an issued command with no ack, and a refused ack, are reported', () => {
    const d1 = decision('d1', T0, { basis: [] })
    const c1 = commandFor(d1)
    const d2 = decision('d2', T0 + 1, { labels: { job: 'batch-7' } })
    const c2 = commandFor(d2)
    const { facts, latest } = story([d1, c1, d2, c2, ackFor(c2, T0 + 5, 'refused', 'expired')])
    const text = narrate(facts, latest[0])
      .sentences.map((x) => x.text)
      .join('\n')
    expect(text).toContain(`No answer from web-3 to command ${c1.payload.commandId} is among these facts.`)
    expect(text).toContain(`web-3 refused throttle_job (command ${c2.payload.commandId}): expired`)
  })

  it('escapes Markdown in fact text', () => {
    const { facts, latest } = story([alert('s1', T0, { message: 'evil *bold* [link](http://x) <b>\n# heading' })])
    const md = narrate(facts, latest[0]).markdown
    expect(md).toContain('evil \\*bold\\* \\[link\\](http://x) \\<b\\> \\# heading')
    expect(md.split('\n').filter((l) => l.startsWith('#'))).toEqual(expect.arrayContaining(['# Incident ' + latest[0].payload.incidentId.slice(0, 8)]))
  })
})

const POOL = Array.from({ length: 3 }, (_, i) => {
  const d = decision(`pd${i}`, T0 + i * MIN, { basis: [`a${i}`], outcome: i === 2 ? 'propose' : 'act' })
  const c = commandFor(d)
  return { d, c, k: ackFor(c, T0 + i * MIN + 1000, i === 1 ? 'failed' : 'executed', i === 1 ? 'disk full' : null) }
})
const ts = fc.integer({ min: 0, max: 60 * MIN }).map((t) => T0 + t)
const sev = fc.constantFrom('low', 'medium', 'high', 'critical')
const job = fc.constantFrom('batch-7', 'batch-8')
const input: fc.Arbitrary<IncidentInput> = fc.oneof(
  fc
    .record({ n: fc.nat(12), ts, severity: sev, job, source: fc.constantFrom('web-3', 'web-4') })
    .map((r) => anomaly(`a${r.n}`, r.ts, { severity: r.severity, source: r.source, labels: { job: r.job } })),
  fc.record({ n: fc.nat(12), ts, severity: sev, job }).map((r) => alert(`s${r.n}`, r.ts, { severity: r.severity, attrs: { job: r.job } })),
  fc.record({ n: fc.nat(12), ts, b: fc.nat(12), suppressed: fc.constantFrom(0, 3) }).map((r) => decision(`d${r.n}`, r.ts, { basis: [`a${r.b}`], suppressed: r.suppressed })),
  fc.record({ i: fc.nat(2), ts, which: fc.constantFrom('d', 'c', 'k') }).map(({ i, ts: t, which }) => ({ ...POOL[i][which], ts: t }) as IncidentInput),
)
/** Unique ids (the first of each wins), as in a real stream. */
const inputs = fc.array(input, { maxLength: 25 }).map((xs) => xs.filter((x, i) => xs.findIndex((y) => y.id === x.id) === i))

describe('narrate properties', () => {
  it('same facts → same text; any order of the same facts → same text; cites only input ids', () => {
    fc.assert(
      fc.property(inputs, fc.integer(), (xs, seed) => {
        const { facts, latest } = story(xs, cfg({ quietPeriod: '5m' }))
        const shuffled = fc.sample(fc.shuffledSubarray(facts, { minLength: facts.length, maxLength: facts.length }), { seed, numRuns: 1 })[0]
        for (const inc of latest) {
          const a = narrate(facts, inc)
          expect(narrate(facts, inc)).toEqual(a)
          expect(narrate(shuffled, inc).markdown).toBe(a.markdown)
          citesOnlyInput(a, facts, inc)
        }
      }),
      { numRuns: 50 },
    )
  })
})
