import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChunkLedger } from './chunks.js'

/** What a caller does: cut a piece, give one back (done with it, or of unknown fate), spoil the current chunk, move to the next. */
type Step = { op: 'cut' } | { op: 'back'; pick: number; ok: boolean } | { op: 'spoil' } | { op: 'next'; want: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ op: 'cut' as const }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('back' as const), pick: fc.nat(), ok: fc.integer({ min: 0, max: 9 }).map((n) => n > 0) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'spoil' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('next' as const), want: fc.constantFrom(10, 64, 65, 1000) }) },
)

/** The model's view of a chunk. */
interface Model {
  out: number
  retired: boolean
  spoiled: boolean
  readonly bytes: number
}

describe('ChunkLedger', () => {
  it('hands out a chunk again only once retired with every piece back and none of unknown fate, and always when one is free (a model of its free list)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), fc.integer({ min: 0, max: 3 }), (steps, keepFree) => {
        const ledger = new ChunkLedger(64, keepFree)
        const model = new Map<ArrayBufferLike, Model>()
        const free: ArrayBufferLike[] = []
        const pieces: { memory: ArrayBufferLike; back: boolean }[] = []
        const fresh = (b: Buffer) => {
          expect(b.byteOffset).toBe(0) // a chunk is an ArrayBuffer of its own, never a view of Buffer's pool
          expect(b.buffer.byteLength).toBe(b.length)
          model.set(b.buffer, { out: 0, retired: false, spoiled: false, bytes: b.length })
        }
        const settle = (memory: ArrayBufferLike) => {
          const m = model.get(memory)!
          if (m.retired && m.out === 0 && !m.spoiled && m.bytes === 64 && free.length < keepFree && !free.includes(memory)) free.push(memory)
        }
        let current = ledger.current
        fresh(current)
        for (const s of steps) {
          if (s.op === 'cut') {
            ledger.lent()
            model.get(current.buffer)!.out++
            pieces.push({ memory: current.buffer, back: false })
          } else if (s.op === 'back') {
            const open = pieces.filter((p) => !p.back)
            if (open.length === 0) continue
            const p = open[s.pick % open.length]
            p.back = true
            ledger.back(p.memory, s.ok)
            const m = model.get(p.memory)!
            m.out--
            if (!s.ok) m.spoiled = true
            settle(p.memory)
          } else if (s.op === 'spoil') {
            ledger.spoil()
            model.get(current.buffer)!.spoiled = true
          } else {
            model.get(current.buffer)!.retired = true
            settle(current.buffer)
            const expected = s.want <= 64 ? free.pop() : undefined
            const next = ledger.next(s.want)
            expect(next.length).toBe(Math.max(64, s.want))
            if (expected === undefined) {
              expect(model.has(next.buffer)).toBe(false) // new memory
              fresh(next)
            } else {
              expect(next.buffer).toBe(expected)
              expect(model.get(expected)).toMatchObject({ out: 0, retired: true, spoiled: false, bytes: 64 })
              model.set(expected, { out: 0, retired: false, spoiled: false, bytes: 64 })
            }
            current = next
          }
        }
      }),
      { numRuns: 500 },
    )
  })

  it('cuts from a chunk again once its pieces are all back, whichever order they come back in', () => {
    const ledger = new ChunkLedger(64, 2)
    const a = ledger.current
    ledger.lent()
    ledger.lent()
    const b = ledger.next(10)
    ledger.lent()
    ledger.next(10)
    ledger.back(b.buffer, true)
    ledger.back(a.buffer, true)
    expect(ledger.next(10).buffer).not.toBe(a.buffer) // one piece of A is still out: B is free, and taken
    ledger.back(a.buffer, true)
    expect(ledger.next(10).buffer).toBe(a.buffer)
  })

  it('never reuses a chunk bigger than its standard size, one with a piece of unknown fate, or one spoiled', () => {
    const ledger = new ChunkLedger(64, 4)
    const big = ledger.next(1000)
    expect(big.length).toBe(1000)
    ledger.lent()
    const spoiled = ledger.next(10)
    ledger.spoil()
    ledger.lent()
    const unknown = ledger.next(10)
    ledger.lent()
    ledger.lent()
    ledger.next(10)
    ledger.back(big.buffer, true)
    ledger.back(spoiled.buffer, true)
    ledger.back(unknown.buffer, false)
    ledger.back(unknown.buffer, true)
    for (let i = 0; i < 8; i++) expect([big.buffer, spoiled.buffer, unknown.buffer]).not.toContain(ledger.next(10).buffer)
  })

  it('ignores memory it did not lend', () => {
    const ledger = new ChunkLedger(64)
    const a = ledger.current
    ledger.lent()
    ledger.back(new ArrayBuffer(64), true)
    ledger.back(Buffer.from('x').buffer, false)
    const b = ledger.next(10)
    expect(b.buffer).not.toBe(a.buffer) // A's piece is still out
    ledger.lent() // (B kept out, so that A is the only free chunk)
    ledger.back(a.buffer, true)
    expect(ledger.next(10).buffer).toBe(a.buffer)
  })
})
