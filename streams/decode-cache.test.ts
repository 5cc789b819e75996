import { describe, expect, it } from 'vitest'
import type { Fact, Result } from '../schemas/index.js'
import { sharedDecodes } from './decode-cache.js'

const bytes = (s: string) => new TextEncoder().encode(s)

describe('sharedDecodes: a message is decoded once between the consumers of a stream in a process', () => {
  it('the second consumer of the same message gets the first one’s decode', () => {
    const nc = {}
    const a = sharedDecodes(nc, 'DERIVED')
    const b = sharedDecodes(nc, 'DERIVED')
    let decodes = 0
    const decode = (): Result<Fact> => ({ ok: true, value: { id: `f${++decodes}` } as unknown as Fact })
    const ra = a.decode(5, 'ben.scrubbed.metric.h1', bytes('abc'), decode)
    const rb = b.decode(5, 'ben.scrubbed.metric.h1', bytes('abc'), decode)
    expect(decodes).toBe(1)
    expect(rb).toBe(ra)
    a.close()
    b.close()
  })

  it('decodes again when the subject or bytes at that sequence differ (a re-created stream), or on another connection or stream', () => {
    const nc = {}
    const a = sharedDecodes(nc, 'DERIVED')
    const b = sharedDecodes(nc, 'DERIVED')
    const other = sharedDecodes({}, 'DERIVED')
    const otherStream = sharedDecodes(nc, 'FACTS')
    let decodes = 0
    const decode = (): Result<Fact> => ({ ok: true, value: { id: `f${++decodes}` } as unknown as Fact })
    a.decode(1, 's.a', bytes('one'), decode)
    b.decode(1, 's.a', bytes('two'), decode)
    b.decode(1, 's.b', bytes('one'), decode)
    other.decode(1, 's.a', bytes('one'), decode)
    otherStream.decode(1, 's.a', bytes('one'), decode)
    expect(decodes).toBe(5)
    for (const c of [a, b, other, otherStream]) c.close()
  })

  it('keeps nothing while a stream has one consumer in the process', () => {
    const nc = {}
    const a = sharedDecodes(nc, 'FACTS')
    let decodes = 0
    const decode = (): Result<Fact> => ({ ok: true, value: { id: `f${++decodes}` } as unknown as Fact })
    a.decode(1, 's', bytes('x'), decode)
    a.decode(1, 's', bytes('x'), decode)
    expect(decodes).toBe(2)
    a.close()
  })
})
