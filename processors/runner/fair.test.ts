import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { Envelope } from '../../streams/index.js'
import { LaneQueue } from './batch.js'
import { FairRound } from './fair.js'

const env = (seq: number, source: string): Envelope => ({ seq, subject: `ben.fact.metric.${source}`, storedAt: seq }) as unknown as Envelope

describe('FairRound', () => {
  it("serves a quiet source's input at its first turn, not behind another source's burst", () => {
    const q = new LaneQueue()
    for (let i = 1; i <= 1000; i++) q.push(env(i, 'burst'))
    const round = new FairRound(2048)
    round.fill(q, 0, () => expect.fail('no redelivery here'))
    const first = round.take(32)
    expect(first.map((e) => e.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1))
    // The probe arrives while the burst is being worked through: it joins the open round.
    q.push(env(1001, 'quiet'))
    round.fill(q, 0, () => expect.fail('no redelivery here'))
    const next = round.take(32)
    // Two sources in the round: the probe is one of the next two inputs (FIFO: after 968 more).
    expect(next.slice(0, 2).map((e) => e.seq)).toContain(1001)
  })

  it('keeps each source in order, takes every input once, and closes at its bound (a seal falls between rounds)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 300 }),
        (sources, step, max) => {
          const q = new LaneQueue()
          sources.forEach((s, i) => q.push(env(i + 1, s)))
          const round = new FairRound(max)
          const taken: Envelope[] = []
          let rounds = 0
          while (q.length || round.pending) {
            const before = taken.length
            round.fill(q, 0, () => expect.fail('no redelivery here'))
            while (round.pending) taken.push(...round.take(step))
            rounds++
            // A finished round is a prefix of the lane: everything up to its highest input was taken.
            const top = Math.max(...taken.map((e) => e.seq))
            expect(taken.length).toBe(top)
            expect(taken.length - before).toBeLessThanOrEqual(max)
          }
          expect(rounds).toBe(Math.ceil(sources.length / max))
          expect(taken.map((e) => e.seq).sort((a, b) => a - b)).toEqual(sources.map((_, i) => i + 1))
          for (const s of new Set(sources)) {
            const seqs = taken.filter((e) => e.subject.endsWith(`.${s}`)).map((e) => e.seq)
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
          }
        },
      ),
    )
  })

  it('hands redeliveries (at or below the position, or already in the round) to `again`', () => {
    const q = new LaneQueue()
    for (const s of [5, 6, 7, 6, 8]) q.push(env(s, 'x'))
    const again: number[] = []
    const round = new FairRound(100)
    round.fill(q, 5, (e) => again.push(e.seq))
    expect(again).toEqual([5, 6])
    expect(round.take(10).map((e) => e.seq)).toEqual([6, 7, 8])
  })
})
