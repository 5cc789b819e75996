import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadDetectorConfig } from './config.js'
import { defaultDetectorConfig, defaultDetectorConfigPath } from './default-config.js'

const load = (text: string) => {
  const r = loadDetectorConfig(text)
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}

describe('loadDetectorConfig', () => {
  it('loads the shipped default, frozen, revision 0', () => {
    const d = defaultDetectorConfig()
    expect(d.bucket).toBe('ben-detectors')
    expect(d.revision).toBe(0)
    expect(Object.isFrozen(d.value)).toBe(true)
    expect(Object.isFrozen(d.value.spec)).toBe(true)
    const s = d.value.resolve('web-3', 'cpu.load')
    expect(s).not.toBeNull()
    expect(s?.rule).toBe('default')
    expect(s?.ensemble.names.length).toBeGreaterThan(0)
    expect(loadDetectorConfig(readFileSync(defaultDetectorConfigPath(), 'utf8')).ok).toBe(true)
  })

  it('ships the level member and reads minAge as a duration', () => {
    expect(defaultDetectorConfig().value.resolve('web-3', 'cpu.load')?.ensemble.names).toContain('level')
    const members = load("detectors: { range: { enabled: true, minAge: 1d }, level: { enabled: true, minAge: '30m' } }").resolve('a', 'b')?.params.members as Record<
      string,
      { minAge?: number }
    >
    expect(members.range.minAge).toBe(86_400_000)
    expect(members.level.minAge).toBe(1_800_000)
    expect(loadDetectorConfig('detectors: { level: { minAge: soon } }').ok).toBe(false)
  })

  it('accepts an empty document and JSON', () => {
    expect(load('').resolve('a', 'b')?.ensemble.names).toEqual(['ewma', 'cusum', 'mad', 'shift', 'drift'])
    expect(load('{"detectors":{"mad":{"enabled":false}}}').resolve('a', 'b')?.ensemble.names).toEqual(['ewma', 'cusum', 'shift', 'drift'])
  })

  it.each([
    ['detectors:\n  ewma: { alpha: 2 }', 'detectors.ewma.alpha'],
    ['detectors:\n  ewma: { alpah: 0.1 }', "unknown field(s) 'alpah'"],
    ['rules:\n  - match: { metric: cpu }\n    detectors: { seasonal: { period: 5 minutes } }', 'rules.0.detectors.seasonal.period'],
    ['ensemble: { combine: median }', 'ensemble.combine'],
    ['detectors:\n  shift: { confirm: 0 }', 'detectors.shift.confirm'],
    ['ensemble: { severity: { medium: 0.99, high: 0.9 } }', 'medium <= high <= critical'],
    ['groups:\n  - name: host\n    metrics: [cpu]', 'groups.0.metrics'],
    ['detectors: [1, 2', 'not valid YAML'],
  ])('rejects %j naming the field', (text, needle) => {
    const r = loadDetectorConfig(text)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.reason).toBe('invalid')
      expect(r.error.message).toContain(needle)
    }
  })

  it('matches rules in order, first match wins, and layers them over the defaults', () => {
    const cfg = load(`
detectors:
  ewma: { threshold: 5 }
rules:
  - name: quiet-disks
    match: { source: 'db-*', metric: 'disk.*' }
    enabled: false
  - name: cpu
    match: { metric: 'cpu.?oad' }
    ensemble: { threshold: 0.7 }
    detectors: { ewma: { alpha: 0.2 }, seasonal: { enabled: true, period: 1h, slots: 12 } }
  - name: never
    match: { metric: 'cpu.*' }
    detectors: { ewma: { alpha: 0.3 } }
`)
    expect(cfg.resolve('db-1', 'disk.free')).toBeNull()
    expect(cfg.resolve('web-1', 'disk.free')?.rule).toBe('default')
    const cpu = cfg.resolve('db-1', 'cpu.load')
    expect(cpu?.rule).toBe('cpu')
    expect(cpu?.ensemble.params.threshold).toBe(0.7)
    expect(cpu?.ensemble.names).toContain('seasonal')
    expect(cpu?.ensemble.periodMs).toBe(3_600_000)
    expect(cpu?.key).toMatch(/^[0-9a-f]{32}$/)
    expect(cpu?.params.members.ewma).toMatchObject({ alpha: 0.2, threshold: 5 })
    expect(cfg.resolve('db-1', 'cpu.user')?.rule).toBe('never')
    // cached answers are the same objects
    expect(cfg.resolve('db-1', 'cpu.load')).toBe(cpu)
  })

  it('compiles groups and finds their members', () => {
    const cfg = load(`
groups:
  - name: host
    match: { source: 'web-*' }
    metrics: [cpu.load, mem.used, net.in]
    pca: { components: 1, threshold: 5 }
`)
    expect(cfg.groupsFor('web-1', 'mem.used').map((m) => [m.group.name, m.index])).toEqual([['host', 1]])
    expect(cfg.groupsFor('db-1', 'mem.used')).toEqual([])
    expect(cfg.groupsFor('web-1', 'disk.free')).toEqual([])
  })

  it('parses durations and limits', () => {
    const cfg = load('limits: { maxSeries: 10, maxLateness: 2m }\ndetectors: { seasonal: { enabled: true, period: 1w, slots: 168 } }')
    expect(cfg.limits).toEqual({ maxSeries: 10, maxGroups: 10_000, maxLatenessMs: 120_000, maxSeriesPerSource: 1_000, idleAfterMs: 86_400_000 })
    expect(load('limits: { maxSeriesPerSource: 50, idleAfter: 2h }').limits).toMatchObject({ maxSeriesPerSource: 50, idleAfterMs: 7_200_000 })
    expect(cfg.resolve('a', 'b')?.ensemble.periodMs).toBe(604_800_000)
  })
})
