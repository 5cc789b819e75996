import { describe, expect, it } from 'vitest'
import type { Envelope } from '../../streams/index.js'
import { AckRun, LaneQueue } from './batch.js'

/** An envelope that records how it was settled. */
function env(seq: number, log: string[]): Envelope {
  return {
    seq,
    subject: `s.${seq}`,
    ack: () => log.push(`ack ${seq}`),
    release: () => log.push(`release ${seq}`),
  } as unknown as Envelope
}

describe('LaneQueue', () => {
  it('hands out every input once, in order, in batches of at most the size asked', () => {
    const q = new LaneQueue()
    const log: string[] = []
    for (let i = 1; i <= 10_000; i++) q.push(env(i, log))
    const seen: number[] = []
    let batches = 0
    while (q.length) {
      const b = q.take(300)
      expect(b.length).toBeLessThanOrEqual(300)
      batches++
      seen.push(...b.map((e) => e.seq))
      // pushes between takes join the end
      if (batches === 5) q.push(env(10_001, log))
    }
    expect(seen).toEqual(Array.from({ length: 10_001 }, (_, i) => i + 1))
    expect(q.peek()).toBeUndefined()
    expect(q.take(10)).toEqual([])
  })

  it('peek shows the oldest waiting input', () => {
    const q = new LaneQueue()
    const log: string[] = []
    q.push(env(7, log))
    q.push(env(8, log))
    expect(q.peek()?.seq).toBe(7)
    q.take(1)
    expect(q.peek()?.seq).toBe(8)
    expect(q.length).toBe(1)
  })
})

describe('AckRun', () => {
  it('acks only the highest input of each lane and releases the ones it covers', () => {
    const log: string[] = []
    const run = new AckRun()
    run.add('alert', env(3, log))
    run.add('routine', env(4, log))
    run.add('routine', env(9, log))
    run.add('alert', env(12, log))
    run.add('routine', env(10, log))
    expect(log).toEqual(['release 4', 'release 3', 'release 9'])
    run.ack()
    expect(log.slice(3).sort()).toEqual(['ack 10', 'ack 12'])
  })
})
