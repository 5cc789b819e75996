import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { TokenTable } from './token-table.js'

describe('TokenTable', () => {
  it('holds what a Map holds, whatever the order of answers, tokens sharing a slot included', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('send', 'send', 'answer', 'answerOldest', 'resend', 'get'), fc.nat()), { maxLength: 300 }), (ops) => {
        const table = new TokenTable<string>(4) // 16 slots: tokens 16 apart share one
        const model = new Map<number, string>()
        let token = 2 ** 32 - 40 // past 32 bits too: slots from the token's low bits
        for (const [op, n] of ops) {
          const held = [...model.keys()]
          if (op === 'send') {
            token += 1 + (n % 20)
            table.set(token, `v${token}`)
            model.set(token, `v${token}`)
          } else if (op === 'resend' && held.length > 0) {
            // a retry: the same value under a fresh token
            const old = held[n % held.length]
            token++
            expect(table.delete(old)).toBe(true)
            table.set(token, model.get(old)!)
            model.set(token, model.get(old)!)
            model.delete(old)
          } else if ((op === 'answer' || op === 'answerOldest') && held.length > 0) {
            const t = op === 'answer' ? held[n % held.length] : Math.min(...held)
            expect(table.delete(t)).toBe(true)
            model.delete(t)
            expect(table.delete(t)).toBe(false)
          } else if (op === 'get') {
            const t = held.length > 0 && n % 2 ? held[n % held.length] : token + 1 + (n % 40)
            expect(table.get(t)).toBe(model.get(t))
          }
          expect(table.size).toBe(model.size)
        }
        const byToken = (a: [number, string], b: [number, string]) => a[0] - b[0]
        expect(table.entries().sort(byToken)).toEqual([...model].sort(byToken))
        for (const [t, v] of model) expect(table.get(t)).toBe(v)
      }),
    )
  })
  it('replaces the value of a token it holds, in its slot or beside it', () => {
    const table = new TokenTable<string>(1)
    table.set(3, 'a')
    table.set(3 + 16, 'b') // the slot of 3 is taken
    table.set(3, 'a2')
    table.set(3 + 16, 'b2')
    expect(table.size).toBe(2)
    expect([table.get(3), table.get(19)]).toEqual(['a2', 'b2'])
    table.delete(3)
    expect(table.get(19)).toBe('b2')
    expect(table.get(3)).toBeUndefined()
  })
})
