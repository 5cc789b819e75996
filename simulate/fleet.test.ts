import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FactCodec, isToken, parseEdgeFact, type EdgeFact } from '../schemas/index.js'
import { createFleet, generate, isSimulateError, parseFleetOptions, scenarioByName, SimulateErrorCode, type FleetOptionsInput } from './index.js'

const T0 = 1_763_700_000_000
const MIN = 60_000
const base: FleetOptionsInput = { hosts: 4, seed: 42, startTs: T0, rate: 40 }
const json = (facts: readonly EdgeFact[]): string => facts.map((f) => JSON.stringify(f)).join('\n')
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

describe('createFleet: determinism', () => {
  it('same seed and options → byte-identical facts; another seed → other facts', () => {
    const a = generate(base, T0 + 5 * MIN).facts
    const b = generate(base, T0 + 5 * MIN).facts
    const c = generate({ ...base, seed: 43 }, T0 + 5 * MIN).facts
    expect(a.length).toBeGreaterThan(1000)
    expect(json(a)).toBe(json(b))
    expect(json(c)).not.toBe(json(a))
    // A string seed works too.
    expect(json(generate({ ...base, seed: 'fleet-a' }, T0 + MIN).facts)).toBe(json(generate({ ...base, seed: 'fleet-a' }, T0 + MIN).facts))
  })

  it('does not depend on how time is chunked: many small next() calls = one big one', () => {
    const whole = generate(base, T0 + 3 * MIN).facts
    const f = createFleet(base)
    const parts: EdgeFact[] = []
    for (let t = T0 + 137; t < T0 + 3 * MIN; t += 977) parts.push(...f.next(t))
    parts.push(...f.next(T0 + 3 * MIN))
    expect(json(parts)).toBe(json(whole))
    expect(f.cursor).toBe(T0 + 3 * MIN)
    expect(f.next(T0 + 2 * MIN)).toEqual([])
  })

  it('property: facts are in time order, inside [start, until), valid edge facts, and reproducible', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.5, max: 200, noNaN: true }),
        fc.integer({ min: 1, max: 4 }),
        (seed, hosts, rate, jobsPerHost) => {
          const o = { hosts, seed, startTs: T0, rate, jobsPerHost }
          const until = T0 + 20_000
          const a = generate(o, until).facts
          expect(json(generate(o, until).facts)).toBe(json(a))
          let last = T0
          for (const f of a) {
            expect(f.ts).toBeGreaterThanOrEqual(last)
            expect(f.ts).toBeLessThan(until)
            last = f.ts
            expect(parseEdgeFact(f).ok).toBe(true)
          }
        },
      ),
      { numRuns: 25 },
    )
  })
})

describe('createFleet: shape and realism', () => {
  const { fleet, facts } = generate({ ...base, hosts: 3, alertEveryMs: 2 * MIN }, T0 + 20 * MIN)

  it('every fact passes parseEdgeFact, with a NATS-safe source, and round-trips through Avro', () => {
    const codec = new FactCodec()
    const lanes = new Set<string>()
    for (const f of facts) {
      lanes.add(f.lane)
      const r = parseEdgeFact(f, { lane: f.lane, source: f.source })
      if (!r.ok) throw new Error(`${r.error.message}: ${JSON.stringify(f)}`)
      expect(isToken(f.source)).toBe(true)
      const e = codec.encode(r.value)
      const back = codec.decode(e.data, e.fingerprint)
      expect(back.ok && back.value).toEqual(r.value)
    }
    expect([...lanes].sort()).toEqual(['alert', 'diag', 'event', 'metric'])
    expect(fleet.sources).toEqual(['web-1', 'web-2', 'web-3'])
    expect(new Set(facts.map((f) => f.source))).toEqual(new Set(fleet.sources))
  })

  it('emits the five metrics per host, cpu.load per job (batch-K), background alerts all low', () => {
    const names = new Set(facts.filter((f) => f.lane === 'metric').map((f) => (f.lane === 'metric' ? f.name : '')))
    expect([...names].sort()).toEqual(['cpu.load', 'disk.io_ms', 'http.req_rate', 'mem.used_pct', 'net.in_bytes'])
    expect(fleet.jobsOf('web-3')).toEqual(['batch-7', 'batch-8', 'batch-9'])
    const jobs = new Set(facts.flatMap((f) => (f.lane === 'metric' && f.source === 'web-2' && f.name === 'cpu.load' ? [f.labels.job] : [])))
    expect([...jobs].sort()).toEqual(['batch-4', 'batch-5', 'batch-6'])
    const alerts = facts.filter((f) => f.lane === 'alert')
    expect(alerts.length).toBeGreaterThan(5)
    for (const a of alerts) expect(a.lane === 'alert' && a.severity).toBe('low')
    const cpu = facts.flatMap((f) => (f.lane === 'metric' && f.name === 'cpu.load' ? [f.value] : []))
    expect(Math.min(...cpu)).toBeGreaterThan(0)
    expect(Math.max(...cpu)).toBeLessThan(2)
    const types = new Set(facts.flatMap((f) => (f.lane === 'event' ? [f.type] : [])))
    for (const t of ['http.request', 'auth.login', 'job.started', 'job.finished']) expect(types).toContain(t)
  })

  it('produces roughly the requested rate, mostly metrics', () => {
    for (const [rate, hosts] of [
      [40, 4],
      [500, 25],
      [5, 2],
    ] as const) {
      const seconds = rate >= 500 ? 60 : 600
      const fs = generate({ ...base, rate, hosts }, T0 + seconds * 1000).facts
      const perSecond = fs.length / seconds
      expect(perSecond).toBeGreaterThan(rate * 0.85)
      expect(perSecond).toBeLessThan(rate * 1.15)
      const metrics = fs.filter((f) => f.lane === 'metric').length / fs.length
      expect(metrics).toBeGreaterThan(0.7)
      expect(metrics).toBeLessThan(0.9)
    }
  })

  it('follows a daily pattern: busier mid-afternoon than at night (a day compressed to 10 minutes)', () => {
    const dayMs = 10 * MIN
    // Start at the fleet's day boundary so phases line up: day fraction 14/24 is the peak.
    const start = Math.ceil(T0 / dayMs) * dayMs
    const fs = generate({ ...base, startTs: start, dayMs, hosts: 2, rate: 80 }, start + 2 * dayMs).facts
    const at = (name: string, lo: number, hi: number): number[] =>
      fs.flatMap((f) => {
        if (f.lane !== 'metric' || f.name !== name) return []
        const t = ((f.ts - start) % dayMs) / dayMs
        return t >= lo && t < hi ? [f.value] : []
      })
    for (const name of ['cpu.load', 'http.req_rate', 'net.in_bytes']) {
      expect(mean(at(name, 12 / 24, 16 / 24))).toBeGreaterThan(1.3 * mean(at(name, 0, 4 / 24)))
    }
  })
})

describe('options', () => {
  it('refuses bad options with the field named', () => {
    const bad = (o: unknown, field: string): void => {
      const r = parseFleetOptions(o)
      expect(r.ok).toBe(false)
      if (!r.ok) {
        expect(r.error.code).toBe(SimulateErrorCode.BadOptions)
        expect(r.error.message).toContain(field)
      }
    }
    bad({ ...base, hosts: 0 }, 'hosts')
    bad({ ...base, rate: -1 }, 'rate')
    bad({ ...base, startTs: 1.5 }, 'startTs')
    bad({ ...base, scenarios: [{ kind: 'meltdown' }] }, 'scenarios')
    bad({ ...base, scenarios: [{ kind: 'drift', metric: 'cpu.load' }] }, 'scenarios.0.metric')
    bad({ ...base, colour: 'blue' }, 'colour')
  })

  it('throws a SimulateError for a scenario host or job that does not exist', () => {
    const err = (o: FleetOptionsInput): unknown => {
      try {
        createFleet(o)
      } catch (e) {
        return e
      }
      return null
    }
    const e1 = err({ ...base, scenarios: [{ kind: 'cpu-runaway', host: 'web-9' }] })
    expect(isSimulateError(e1) && e1.message).toContain("host 'web-9' is not in the fleet")
    const e2 = err({ ...base, scenarios: [{ kind: 'cpu-runaway', host: 'web-2', job: 'batch-1' }] })
    expect(isSimulateError(e2) && e2.message).toContain('batch-4, batch-5, batch-6')
  })

  it('scenarioByName accepts the CLI names only', () => {
    expect(scenarioByName('drift')).toEqual({ ok: true, value: { kind: 'drift' } })
    const r = scenarioByName('nope')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.message).toContain('cpu-runaway, secret-leak, drift')
  })
})
