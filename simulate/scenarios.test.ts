import { describe, expect, it } from 'vitest'
import { parseEdgeFact, type EdgeFact } from '../schemas/index.js'
import { createFleet, generate, WARM_SAMPLES, type FleetOptionsInput } from './index.js'
import { luhnCheckDigit } from './secrets.js'

const T0 = 1_763_700_000_000
const MIN = 60_000
const base = { hosts: 4, seed: 7, startTs: T0, rate: 60 } satisfies FleetOptionsInput

const cpuOf = (facts: readonly EdgeFact[], source: string, job: string): Array<{ ts: number; value: number }> =>
  facts.flatMap((f) => (f.lane === 'metric' && f.source === source && f.name === 'cpu.load' && f.labels.job === job ? [{ ts: f.ts, value: f.value }] : []))

describe('cpu-runaway', () => {
  const spec = { kind: 'cpu-runaway', host: 'web-2', job: 'batch-5', atMs: 4 * MIN, durationMs: 3 * MIN } as const
  const until = T0 + 12 * MIN
  const plain = generate(base, until).facts
  const { fleet, facts } = generate({ ...base, scenarios: [spec] }, until)
  const truth = fleet.scenarios()[0]

  it('exposes its ground truth', () => {
    expect(truth).toEqual({ kind: 'cpu-runaway', source: 'web-2', job: 'batch-5', metric: 'cpu.load', startTs: T0 + 4 * MIN, endTs: T0 + 7 * MIN, episode: 1 })
  })

  it('runs the job to 8-10 during the window and leaves it normal before and after', () => {
    const s = cpuOf(facts, 'web-2', 'batch-5')
    const during = s.filter((p) => p.ts >= truth.startTs + 5_000 && p.ts < truth.endTs)
    const outside = s.filter((p) => p.ts < truth.startTs || p.ts >= truth.endTs + 15_000)
    expect(during.length).toBeGreaterThan(100)
    for (const p of during) expect(p.value).toBeGreaterThan(6)
    expect(during.reduce((a, p) => a + p.value, 0) / during.length).toBeGreaterThan(8)
    for (const p of outside) expect(p.value).toBeLessThan(2)
  })

  it('changes nothing else: every other fact is identical to the fleet without the scenario', () => {
    expect(facts.length).toBe(plain.length)
    let differ = 0
    for (let i = 0; i < facts.length; i++) {
      const a = facts[i]
      const b = plain[i]
      if (JSON.stringify(a) === JSON.stringify(b)) continue
      differ++
      expect(a.lane === 'metric' && a.source === 'web-2' && a.name === 'cpu.load' && a.labels.job === 'batch-5').toBe(true)
      expect(a.ts).toBeGreaterThanOrEqual(truth.startTs)
      expect(a.ts).toBeLessThan(truth.endTs + 15_000)
    }
    expect(differ).toBeGreaterThan(100)
  })

  it('repeats identically `afterMs` later when asked (to test suppression in a rate-limit window)', () => {
    const f = createFleet({ ...base, scenarios: [{ ...spec, durationMs: MIN, repeat: { afterMs: 3 * MIN } }] })
    const fs = f.next(until)
    const [first, second] = f.scenarios()
    expect(second).toMatchObject({ kind: 'cpu-runaway', episode: 2, startTs: first.startTs + 3 * MIN, endTs: first.startTs + 4 * MIN })
    const s = cpuOf(fs, 'web-2', 'batch-5')
    const high = (lo: number, hi: number): boolean => s.filter((p) => p.ts >= lo && p.ts < hi).every((p) => p.value > 6)
    expect(high(first.startTs + 5_000, first.endTs)).toBe(true)
    expect(high(second.startTs + 5_000, second.endTs)).toBe(true)
    expect(s.filter((p) => p.ts >= first.endTs + 15_000 && p.ts < second.startTs).every((p) => p.value < 2)).toBe(true)
  })

  it('picks host, job and time from the seed and the run length when not given', () => {
    const a = createFleet({ ...base, durationMs: 20 * MIN, scenarios: [{ kind: 'cpu-runaway' }] })
    const t = a.scenarios()[0]
    expect(t.startTs).toBe(T0 + 8 * MIN)
    expect(t.endTs).toBe(T0 + 13 * MIN)
    expect(a.jobsOf(t.source)).toContain(t.job)
    expect(createFleet({ ...base, durationMs: 20 * MIN, scenarios: [{ kind: 'cpu-runaway' }] }).scenarios()).toEqual(a.scenarios())
    // Without a run length it starts once the detectors have warmed up.
    const b = createFleet({ ...base, scenarios: [{ kind: 'cpu-runaway' }] })
    expect(b.scenarios()[0].startTs).toBe(T0 + WARM_SAMPLES * b.metricIntervalMs)
  })
})

describe('secret-leak', () => {
  const { fleet, facts } = generate({ ...base, scenarios: [{ kind: 'secret-leak', host: 'web-3', atMs: 2 * MIN }] }, T0 + 4 * MIN)
  const truth = fleet.scenarios()[0]

  it('writes every secret into raw log lines on the host, and exposes them', () => {
    expect(truth).toMatchObject({ kind: 'secret-leak', source: 'web-3', startTs: T0 + 2 * MIN, artifact: '/var/log/app.log', rule: 'dlp.secret' })
    const secrets = truth.secrets ?? []
    expect(fleet.secrets).toEqual(secrets)
    expect(secrets.length).toBe(6)
    const raw = facts.map((f) => JSON.stringify(f)).join('\n')
    const text = facts.flatMap((f) => (f.lane === 'event' ? [f.message, ...Object.values(f.attrs)] : [])).join('\n')
    for (const s of secrets) expect(text.includes(s), s).toBe(true)
    for (const s of secrets) expect(raw.includes(JSON.stringify(s).slice(1, -1))).toBe(true)
    const leaky = facts.filter((f) => secrets.some((s) => JSON.stringify(f).includes(JSON.stringify(s).slice(1, -1))))
    for (const f of leaky) {
      expect(f.source).toBe('web-3')
      expect(f.ts).toBeGreaterThanOrEqual(truth.startTs)
      expect(f.ts).toBeLessThanOrEqual(truth.endTs)
      expect(parseEdgeFact(f).ok).toBe(true)
    }
  })

  it('has the shapes the scrub detectors look for', () => {
    const s = truth.secrets ?? []
    expect(s[0]).toMatch(/^AKIA[A-Z2-7]{16}$/)
    expect(s[1]).toMatch(/^[A-Za-z0-9/+]{40}$/)
    expect(s[2]).toMatch(/^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    expect(s[3]).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+\n-----END RSA PRIVATE KEY-----$/)
    const card = s[5]
    expect(card).toMatch(/^[45]\d{15}$/)
    expect(luhnCheckDigit(card.slice(0, 15))).toBe(Number(card[15]))
    expect(luhnCheckDigit('7992739871')).toBe(3)
  })

  it('raises one high-severity dlp.secret edge alert naming the artifact, without the secrets', () => {
    const alerts = facts.filter((f) => f.lane === 'alert' && f.severity === 'high')
    expect(alerts).toHaveLength(1)
    const a = alerts[0]
    expect(a).toMatchObject({
      lane: 'alert',
      source: 'web-3',
      ts: truth.endTs,
      rule: 'dlp.secret',
      severity: 'high',
      attrs: { artifact: '/var/log/app.log', path: '/var/log/app.log' },
    })
    for (const s of truth.secrets ?? []) expect(JSON.stringify(a)).not.toContain(s.slice(0, 20))
  })

  it('honours the chosen secret kinds, artifact and rule', () => {
    const f = createFleet({ ...base, scenarios: [{ kind: 'secret-leak', secrets: ['card'], artifact: '/srv/app/.env', rule: 'secret.file' }] })
    const t = f.scenarios()[0]
    expect(t.secrets).toHaveLength(1)
    const alert = f.next(t.endTs + 1).find((x) => x.lane === 'alert' && x.severity === 'high')
    expect(alert).toMatchObject({ rule: 'secret.file', attrs: { artifact: '/srv/app/.env', findings: 'payment-card' } })
  })
})

describe('drift', () => {
  const spec = { kind: 'drift', host: 'web-1', atMs: 2 * MIN, durationMs: 10 * MIN } as const
  const until = T0 + 16 * MIN
  const { fleet, facts } = generate({ ...base, dayMs: 6 * 3_600_000, scenarios: [spec] }, until)
  const plain = generate({ ...base, dayMs: 6 * 3_600_000 }, until).facts
  const mem = (fs: readonly EdgeFact[], source: string) =>
    fs.flatMap((f) => (f.lane === 'metric' && f.source === source && f.name === 'mem.used_pct' ? [{ ts: f.ts, value: f.value }] : []))
  const windows = (s: ReadonlyArray<{ ts: number; value: number }>, from: number, to: number, n: number): number[] => {
    const w = (to - from) / n
    return Array.from({ length: n }, (_, k) => {
      const xs = s.filter((p) => p.ts >= from + k * w && p.ts < from + (k + 1) * w)
      return xs.reduce((a, p) => a + p.value, 0) / xs.length
    })
  }

  it('raises mem.used_pct steadily over the window (each minute above the one before), then holds', () => {
    const truth = fleet.scenarios()[0]
    expect(truth).toEqual({ kind: 'drift', source: 'web-1', metric: 'mem.used_pct', startTs: T0 + 2 * MIN, endTs: T0 + 12 * MIN })
    const s = mem(facts, 'web-1')
    const w = windows(s, truth.startTs, truth.endTs, 10)
    for (let k = 1; k < w.length; k++) expect(w[k]).toBeGreaterThan(w[k - 1])
    const before = windows(s, T0, truth.startTs, 1)[0]
    const after = windows(s, truth.endTs, until, 1)[0]
    expect(after - before).toBeGreaterThan(15)
  })

  it('leaves other hosts and metrics alone', () => {
    expect(JSON.stringify(mem(facts, 'web-2'))).toBe(JSON.stringify(mem(plain, 'web-2')))
    const other = (fs: readonly EdgeFact[]) => fs.filter((f) => !(f.lane === 'metric' && f.source === 'web-1' && f.name === 'mem.used_pct')).map((f) => JSON.stringify(f))
    expect(other(facts)).toEqual(other(plain))
  })
})
