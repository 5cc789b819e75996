import { filter, from, toArray, firstValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { Bucket, isSubsetOf, streamSubjects, Subjects } from '../streams/index.js'
import { parseEdgeFact, type Fact, type MetricFact, type RawFact } from '../schemas/index.js'
import { generate, scenarioByName } from '../simulate/index.js'
import { ISSUER } from '../test/fixtures/act.js'
import { actConfigOf, configCommands, PIPELINE, specOf, STAGE_NAMES, StateScope } from './pipeline.js'
import { LocalPipeline } from './local-pipeline.js'
import { runStage, stageFeed, stepAll, stepSafely, type Stage } from './stage.js'

const subjects = new Subjects('ben')
const T0 = 1_763_700_000_000

function fleetFacts(minutes: number): RawFact[] {
  const sc = scenarioByName('cpu-runaway')
  if (!sc.ok) throw sc.error
  const { facts } = generate({ hosts: 3, seed: 7, startTs: T0, rate: 60, scenarios: [{ ...sc.value, atMs: 60_000 }] }, T0 + minutes * 60_000)
  return facts.map((e) => {
    const r = parseEdgeFact(e)
    if (!r.ok) throw new Error(r.error.message)
    return r.value as RawFact
  })
}

describe('the stage graph', () => {
  it('lists every stage once, in flow order, each lane inside its stream and each config in a known bucket', () => {
    expect(STAGE_NAMES).toEqual(['scrub', 'detect', 'policy', 'act', 'incident'])
    const streams = streamSubjects(subjects)
    for (const name of STAGE_NAMES) {
      const spec = specOf(name)
      expect(spec.stage.name).toBe(name)
      expect(spec.inputs.length).toBeGreaterThan(0)
      for (const l of spec.inputs)
        expect(
          streams[l.stream].some((s) => isSubsetOf(l.filter(subjects), s)),
          `${name}/${l.lane}`,
        ).toBe(true)
      expect(Object.values(Bucket)).toContain(spec.config.bucket)
      // a partitioned stage keeps no state across sources
      if (spec.partitionKey !== null) expect(spec.state).not.toBe(StateScope.Global)
    }
    expect(configCommands().map((c) => c.command.command)).toEqual(['manifest', 'detectors', 'policy'])
    // the built-in default's text loads with the stage's own loader
    for (const c of configCommands()) expect(c.config.load(c.command.builtinText()).ok, c.command.command).toBe(true)
  })

  it('stepSafely: a throwing step is a stage_error rejection and the state is kept', () => {
    const boom: Stage<number, null, Fact> = {
      name: 'boom',
      version: '1',
      initialState: () => 0,
      accepts: (f): f is Fact => true,
      step: () => {
        throw new Error('kaput')
      },
    }
    const r = stepSafely(boom, 41, { id: 'f1' } as Fact, { bucket: 'x', revision: 0, value: null })
    expect(r.state).toBe(41)
    expect(r.out).toEqual([])
    expect(r.rejected).toEqual({ reason: 'stage_error', message: 'boom failed on fact f1: kaput' })
  })

  it("stageFeed (the live runner's composition) emits what filter(accepts) + runStage emits, and keeps the state it checkpoints", async () => {
    const raw = fleetFacts(3)
    const cfg = { bucket: Bucket.Redaction, revision: 0, value: PIPELINE.scrub.config.fallback() }
    const scrubbed = raw.map((f) => stepSafely(PIPELINE.scrub.stage, null, f, cfg).out[0])
    const dcfg = { bucket: Bucket.Detectors, revision: 0, value: PIPELINE.detect.config.fallback() }
    const stage = PIPELINE.detect.stage
    const viaOperator = await firstValueFrom(
      from(scrubbed as Fact[]).pipe(
        filter((f: Fact): f is MetricFact => stage.accepts(f)),
        runStage(stage, () => dcfg),
        toArray(),
      ),
    )
    const feed = stageFeed(stage, () => dcfg)
    const viaFeed = scrubbed.map((f) => feed.push(f)).filter((e) => e !== undefined)
    expect(viaFeed.length).toBe(viaOperator.length)
    expect(viaFeed.map((e) => e.out.map((o) => o.id))).toEqual(viaOperator.map((e) => e.out.map((o) => o.id)))
    expect(viaOperator.some((e) => e.out.length > 0)).toBe(true) // the runaway is detected
    // events are not the detector's: the feed passes them by
    expect(feed.push(raw.find((f) => f.kind === 'event')!)).toBeUndefined()
    const metrics = scrubbed.filter((f): f is (typeof scrubbed)[number] & { kind: 'metric' } => f.kind === 'metric') as never[]
    expect(stage.serialize!(feed.state)).toEqual(stage.serialize!(stepAll(stage, metrics, dcfg).state))
    feed.close()
  })

  it('LocalPipeline derives what the stages chained by hand derive, fact for fact', () => {
    const raw = fleetFacts(4)
    const local = new LocalPipeline(subjects, ISSUER)
    const got: Record<string, string[]> = {}
    for (let i = 0; i < raw.length; i += 500) {
      const out = local.run(raw.slice(i, i + 500))
      for (const n of STAGE_NAMES) (got[n] ??= []).push(...out[n].map((o) => `${o.subject} ${o.fact.id}`))
    }
    local.close()
    const want = byHand(raw)
    expect(got).toEqual(want)
    expect(want.detect.length).toBeGreaterThan(0)
    expect(want.policy.length).toBeGreaterThan(0)
    expect(want.incident.length).toBeGreaterThan(0)
  })
})

/** The chain written out by hand (chunks of 500, each stage's lanes in priority order), sharing only the stage objects. */
function byHand(raw: readonly RawFact[]): Record<string, string[]> {
  const v = <C>(bucket: string, value: C) => ({ bucket, revision: 0, value })
  const pack = PIPELINE.policy.config.fallback()
  const a = actConfigOf(pack, ISSUER)
  if (!a.ok) throw new Error(a.error.message)
  const cfg = {
    scrub: v(Bucket.Redaction, PIPELINE.scrub.config.fallback()),
    detect: v(Bucket.Detectors, PIPELINE.detect.config.fallback()),
    policy: v(Bucket.Policy, pack),
    act: v(Bucket.Policy, a.value),
    incident: v(Bucket.Incidents, PIPELINE.incident.config.fallback()),
  }
  let ds = PIPELINE.detect.stage.initialState()
  let ps = PIPELINE.policy.stage.initialState()
  let as = PIPELINE.act.stage.initialState()
  let is = PIPELINE.incident.stage.initialState()
  const out: Record<string, string[]> = { scrub: [], detect: [], policy: [], act: [], incident: [] }
  const rec = (n: string, f: Fact, subject: string) => out[n].push(`${subject} ${f.id}`)
  for (let i = 0; i < raw.length; i += 500) {
    const chunk = raw.slice(i, i + 500)
    const alertsFirst = [...chunk.filter((f) => f.kind === 'alert'), ...chunk.filter((f) => f.kind !== 'alert')]
    const scrubbed: Fact[] = []
    for (const f of alertsFirst)
      for (const o of PIPELINE.scrub.stage.step(null, f, cfg.scrub).out) {
        scrubbed.push(o)
        rec('scrub', o, subjects.forFact(o, { scrubbed: true }))
      }
    const anomalies: Fact[] = []
    for (const f of scrubbed) {
      if (f.kind !== 'metric') continue
      const r = PIPELINE.detect.stage.step(ds, f as never, cfg.detect)
      ds = r.state
      for (const o of r.out) {
        anomalies.push(o)
        rec('detect', o, subjects.forFact(o))
      }
    }
    const alerts = scrubbed.filter((f) => f.kind === 'alert')
    const decisions: Fact[] = []
    for (const f of [...alerts, ...anomalies]) {
      const r = PIPELINE.policy.stage.step(ps, f as never, cfg.policy)
      ps = r.state
      for (const o of r.out) {
        decisions.push(o)
        rec('policy', o, subjects.forFact(o))
      }
    }
    const commands: Fact[] = []
    for (const f of decisions) {
      const r = PIPELINE.act.stage.step(as, f as never, cfg.act)
      as = r.state
      for (const o of r.out) {
        commands.push(o)
        rec('act', o, subjects.forFact(o))
      }
    }
    for (const f of [...alerts, ...anomalies, ...decisions, ...commands]) {
      const r = PIPELINE.incident.stage.step(is, f as never, cfg.incident)
      is = r.state
      for (const o of r.out) rec('incident', o, subjects.forFact(o))
    }
  }
  return out
}
