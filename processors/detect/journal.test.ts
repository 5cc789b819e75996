import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RejectReason, type MetricFact } from '../../schemas/index.js'
import { ChangeLog, ChunkWriter, FrameReader, MAX_SEGMENTS, SLACK_BYTES } from '../runner/index.js'
import { stepAll, type Versioned } from '../stage.js'
import { loadDetectorConfig, type DetectorConfig } from './config.js'
import { defaultDetectorConfig } from './default-config.js'
import { detectStage } from './stage.js'
import { serializeDetectState, Table, type DetectState } from './state.js'
import { StoredSeries } from './journal.js'

const T0 = Date.UTC(2025, 0, 1)
const cfgOf = (yaml: string): Versioned<DetectorConfig> => {
  const r = loadDetectorConfig(yaml)
  if (!r.ok) throw new Error(r.error.message)
  return { bucket: 'ben-detectors', revision: 5, value: r.value }
}

function metric(id: string, ts: number, value: number, source: string, name: string, labels: Record<string, string>): MetricFact {
  return { id, ts, source, lane: 'routine', kind: 'metric', payload: { name, value, labels }, lineage: [], producer: 'edge', config: {}, explain: null, redactions: [] }
}

interface Seg {
  seq: number
  chunks: Uint8Array[]
}

/** What the checkpoint store does with the journal's segments, in memory: keep those the plan lists. */
class MemoryLog {
  segs: Seg[] = []
  seq = 0
  lastRecords = 0
  lastBytes = 0
  seal(state: DetectState, chunkSize = 4096): void {
    const w = new ChunkWriter(chunkSize)
    const seq = ++this.seq
    const plan = detectStage.journal!.write(state, seq, w)
    const chunks = w.finish()
    this.lastRecords = plan.records
    this.lastBytes = chunks.reduce((n, c) => n + c.length, 0)
    this.segs = [...this.segs.filter((s) => plan.keep!.includes(s.seq)), { seq, chunks }]
    expect(this.segs.length).toBeLessThanOrEqual(MAX_SEGMENTS)
  }
  restore(): DetectState {
    const rs = detectStage.journal!.restore()
    let seg = -1
    const frames = new FrameReader((f) => rs.frame(seg, f))
    for (const s of this.segs) {
      seg = s.seq
      for (const c of s.chunks) frames.push(c)
      expect(frames.complete).toBe(true)
    }
    return rs.finish()
  }
}

const arbPoint = fc.record({
  source: fc.constantFrom('web-1', 'web-2', 'db-1'),
  name: fc.constantFrom('cpu.load', 'mem.used'),
  job: fc.constantFrom('a', 'b'),
  dt: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0, max: 60_000 }) }, fc.integer({ min: -120_000, max: 0 })),
  value: fc.oneof(
    { weight: 40, arbitrary: fc.double({ min: 9, max: 11, noNaN: true }) },
    { weight: 2, arbitrary: fc.double({ min: 100, max: 1e4, noNaN: true }) },
    fc.constantFrom(Number.NaN, -0, 0, 1e300),
  ),
})
const SMALL = cfgOf(`
ensemble: { warmup: 10 }
detectors:
  ewma: { threshold: 4, warmup: 10, alpha: 0.1 }
  mad: { window: 12, threshold: 5, warmup: 10 }
  drift: { window: 16, bins: 4, every: 2, weight: 1 }
groups: [{ name: host, metrics: [cpu.load, mem.used] }]
limits: { maxLateness: 1m, maxSeries: 10, maxSeriesPerSource: 3, idleAfter: 30m }
`)
const CONFIGS = [SMALL, defaultDetectorConfig()]

describe('detect journal (incremental checkpoints)', () => {
  it('restarts from the retained segments, at any points, give the outputs and state of an uninterrupted run', () => {
    let emitted = 0
    let refused = 0
    fc.assert(
      fc.property(
        fc.array(arbPoint, { minLength: 100, maxLength: 600 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.constantFrom(0, 1),
        (xs, seals, restarts, c) => {
          let ts = T0
          const facts = xs.map((x, k) => metric(`f${k}`, (ts += x.dt), x.value, x.source, x.name, { job: x.job }))
          const whole = stepAll(detectStage, facts, CONFIGS[c])
          emitted += whole.out.length
          refused += whole.rejected.filter((r) => r.rejection.reason === RejectReason.CardinalityLimit).length
          const sealAt = new Set(seals.map((s) => s % facts.length))
          const restartAt = new Set(restarts.map((s) => s % facts.length))
          const log = new MemoryLog()
          let state = detectStage.initialState()
          const out: string[] = []
          for (let i = 0; i < facts.length; i++) {
            if (restartAt.has(i)) {
              // a crash: whatever was not sealed is lost, and applied again from the last seal
              log.seal(state)
              state = log.restore()
            }
            const r = detectStage.step(state, facts[i], CONFIGS[c])
            state = r.state
            out.push(...r.out.map((f) => JSON.stringify(f)))
            if (sealAt.has(i)) log.seal(state)
          }
          expect(out).toEqual(whole.out.map((f) => JSON.stringify(f)))
          expect(JSON.stringify(detectStage.serialize!(state))).toBe(JSON.stringify(detectStage.serialize!(whole.state)))
          log.seal(state)
          expect(JSON.stringify(detectStage.serialize!(log.restore()))).toBe(JSON.stringify(detectStage.serialize!(whole.state)))
        },
      ),
      { numRuns: 60 },
    )
    expect(emitted).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
  })

  it('a crash between seals re-applies the inputs after the last seal and re-derives the same facts', () => {
    const cfg = defaultDetectorConfig()
    const facts: MetricFact[] = []
    for (let i = 0; i < 3000; i++)
      for (let s = 0; s < 4; s++) facts.push(metric(`p${i}-${s}`, T0 + i * 1000, i > 2500 && s === 1 ? 40 : 10 + Math.sin(i * (s + 1)), `h${s}`, 'cpu.load', {}))
    const whole = stepAll(detectStage, facts, cfg)
    expect(whole.out.length).toBeGreaterThan(0)
    const log = new MemoryLog()
    let state = detectStage.initialState()
    let sealedAt = 0
    let crashed = false
    const out = new Map<string, string>()
    for (let i = 0; i < facts.length; i++) {
      for (const f of detectStage.step(state, facts[i], cfg).out) out.set(f.id, JSON.stringify(f))
      if (i % 997 === 0) {
        log.seal(state)
        sealedAt = i + 1
      }
      if (i === 10_100 && !crashed) {
        crashed = true
        state = log.restore()
        i = sealedAt - 1
      }
    }
    expect(crashed).toBe(true)
    expect([...out.values()].sort()).toEqual(whole.out.map((f) => JSON.stringify(f)).sort())
  })

  it('a checkpoint writes what changed, not the whole state; under churn of a few series its cost stays that of the changed ones', () => {
    const cfg = defaultDetectorConfig()
    let state = detectStage.initialState()
    const log = new MemoryLog()
    const series = 960
    for (let p = 0; p < 20; p++)
      for (let s = 0; s < series; s++)
        state = detectStage.step(state, metric(`w${p}-${s}`, T0 + p * 1000, 5 + (s % 7), `src-${s % 100}`, `m${s % 10}`, { k: String(Math.floor(s / 100)) }), cfg).state
    log.seal(state, 512 * 1024)
    const full = log.lastBytes
    expect(log.lastRecords).toBe(series)
    state = detectStage.step(state, metric('one', T0 + 30_000, 5, 'src-3', 'm3', { k: '0' }), cfg).state
    log.seal(state, 512 * 1024)
    expect(log.lastRecords).toBe(1)
    expect(log.lastBytes).toBeLessThan(full / 100)
    // nothing changed: nothing but the header
    log.seal(state, 512 * 1024)
    expect(log.lastRecords).toBe(0)
    // churn: 5 series change between checkpoints, 300 checkpoints (past MAX_SEGMENTS): every
    // checkpoint writes those 5 and, now and then, a compaction of a small segment; the base
    // segment (the whole state) is never rewritten
    let written = 0
    let most = 0
    for (let c = 0; c < 300; c++) {
      for (let k = 0; k < 5; k++) {
        const s = (c * 7 + k * 131) % series
        state = detectStage.step(state, metric(`c${c}-${k}`, T0 + 40_000 + c * 1000, 5 + (s % 7), `src-${s % 100}`, `m${s % 10}`, { k: String(Math.floor(s / 100)) }), cfg).state
      }
      log.seal(state, 512 * 1024)
      written += log.lastBytes
      most = Math.max(most, log.lastRecords)
    }
    expect(log.segs.length).toBeLessThanOrEqual(MAX_SEGMENTS)
    expect(most).toBeLessThan(series / 10)
    // per checkpoint: at most about twice the 5 changed records (a compaction copies a segment as small) and the segment's tables
    expect(written / 300).toBeLessThan(3 * 5 * (full / series) + 4096)
    // and what is retained restores the same state
    expect(JSON.stringify(serializeDetectState(log.restore()))).toBe(JSON.stringify(serializeDetectState(state)))
  })

  it('a restored series not stepped since is copied forward byte for byte; stepped, it decodes to the state an uninterrupted run has', () => {
    const cfg = defaultDetectorConfig()
    let state = detectStage.initialState()
    const log = new MemoryLog()
    const facts = (from: number, to: number): MetricFact[] => {
      const out: MetricFact[] = []
      for (let p = from; p < to; p++)
        for (let s = 0; s < 20; s++) out.push(metric(`l${p}-${s}`, T0 + p * 60_000, 10 + (s % 3) + (p % 5) / 7 + (s === 3 && p >= 180 ? 100 : 0), `h${s % 4}`, `m${s % 5}`, {}))
      return out
    }
    const first = facts(0, 150)
    for (const f of first) state = detectStage.step(state, f, cfg).state
    log.seal(state)
    const restored = log.restore()
    const rec = [...restored.series.values()][3] as StoredSeries
    expect(rec).toBeInstanceOf(StoredSeries)
    expect(rec.packed).toBeDefined()
    // sealed again without a step: its frame is the same bytes
    const again = new MemoryLog()
    for (const key of restored.series.keys()) restored.journal.touch(Table.Series, key)
    again.seal(restored)
    expect(Buffer.concat(again.segs[0].chunks).equals(Buffer.concat(log.segs[0].chunks))).toBe(true)
    // the rest of the run, from the restored state and from the live one: same outputs, same state
    const rest = facts(150, 200)
    const a = stepAll(detectStage, rest, cfg, restored)
    const b = stepAll(detectStage, rest, cfg, state)
    expect(a.out.map((f) => JSON.stringify(f))).toEqual(b.out.map((f) => JSON.stringify(f)))
    expect(a.out.length).toBeGreaterThan(0)
    expect(JSON.stringify(serializeDetectState(a.state))).toBe(JSON.stringify(serializeDetectState(b.state)))
  })

  it('the change log keeps at most MAX_SEGMENTS segments and at most 1.5 x the live bytes + slack, whatever the update pattern', () => {
    const rec = 200_000
    const log = new ChangeLog(1)
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`)
    for (const k of keys) log.touch(0, k)
    const sink = { record: () => rec, tombstone: () => 50 }
    let retained = new Map<number, number>()
    const g = fc.sample(fc.array(fc.nat(499), { minLength: 0, maxLength: 400 }), { numRuns: 600, seed: 7 })
    for (let seq = 1; seq <= g.length; seq++) {
      // hot keys change every time, the rest rarely: the oldest segments hold a few live copies each
      for (const i of g[seq - 1]) log.touch(0, keys[i % 50])
      if (seq % 97 === 0) log.remove(0, keys[seq % 500])
      const plan = log.seal(seq, sink, 40)
      retained.set(seq, 1)
      retained = new Map([...retained].filter(([s]) => plan.keep.includes(s)))
      expect(retained.size).toBeLessThanOrEqual(MAX_SEGMENTS)
      expect(log.retainedBytes).toBeLessThanOrEqual(1.5 * log.storedBytes + SLACK_BYTES + 400 * rec)
    }
  })
})

describe('cardinality limit per source', () => {
  const cfg = cfgOf(`
detectors: { drift: { enabled: false } }
limits: { maxSeriesPerSource: 3, idleAfter: 10m }
`)
  it('refuses a new series past the limit with cardinality_limit, says what and why, and keeps the other sources going', () => {
    const facts = [
      ...['a', 'b', 'c', 'd', 'e'].map((v, i) => metric(`x${i}`, T0 + i, 1, 'web-1', 'req', { path: v })),
      metric('y', T0 + 10, 1, 'web-2', 'req', { path: 'z' }),
      metric('x-again', T0 + 11, 2, 'web-1', 'req', { path: 'a' }),
    ]
    const r = stepAll(detectStage, facts, cfg)
    expect(r.rejected.map((x) => [x.input.id, x.rejection.reason])).toEqual([
      ['x3', 'cardinality_limit'],
      ['x4', 'cardinality_limit'],
    ])
    expect(r.rejected[0].rejection.message).toMatch(/web-1 already has 3 series \(limits\.maxSeriesPerSource 3\).*req \{path=d\} refused/)
    expect(r.state.refused).toBe(2)
    expect(r.state.series.size).toBe(4)
  })

  it('drops a source’s series idle for limits.idleAfter (event time) to make room, the same on every run', () => {
    const facts = [
      ...['a', 'b', 'c'].map((v, i) => metric(`x${i}`, T0 + i, 1, 'web-1', 'req', { path: v })),
      metric('b-again', T0 + 5 * 60_000, 1, 'web-1', 'req', { path: 'b' }),
      metric('d-early', T0 + 9 * 60_000, 1, 'web-1', 'req', { path: 'd' }),
      metric('d-late', T0 + 11 * 60_000, 1, 'web-1', 'req', { path: 'd' }),
    ]
    const r = stepAll(detectStage, facts, cfg)
    expect(r.rejected.map((x) => x.input.id)).toEqual(['d-early'])
    // a and c were idle for more than 10 minutes when d arrived again; b was not
    expect([...r.state.series.values()].map((s) => s.labels.path).sort()).toEqual(['b', 'd'])
    expect(r.state.idle).toBe(2)
    expect(JSON.stringify(stepAll(detectStage, facts, cfg).state.series.size)).toBe('2')
  })
})
