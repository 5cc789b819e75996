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

  it('keeps a decode only for subjects two consumers read: the facts projector beside the anomaly readers keeps none of its scrubbed facts', () => {
    const nc = {}
    const facts = sharedDecodes(nc, 'DERIVED', 'ben.scrubbed.>')
    const anomalies = sharedDecodes(nc, 'DERIVED', 'ben.anomaly.>')
    const incident = sharedDecodes(nc, 'DERIVED', 'ben.anomaly.*.web-1')
    let decodes = 0
    const decode = (): Result<Fact> => ({ ok: true, value: { id: `f${++decodes}` } as unknown as Fact })
    facts.decode(1, 'ben.scrubbed.metric.web-1', bytes('m'), decode)
    facts.decode(1, 'ben.scrubbed.metric.web-1', bytes('m'), decode)
    expect(decodes, 'a subject one consumer reads: decoded each time, nothing kept').toBe(2)
    anomalies.decode(2, 'ben.anomaly.high.web-1', bytes('a'), decode)
    incident.decode(2, 'ben.anomaly.high.web-1', bytes('a'), decode)
    expect(decodes, 'a subject two consumers read: decoded once').toBe(3)
    anomalies.decode(3, 'ben.anomaly.high.web-2', bytes('b'), decode)
    anomalies.decode(3, 'ben.anomaly.high.web-2', bytes('b'), decode)
    expect(decodes, "web-2's anomalies: only one consumer's filter matches").toBe(5)
    // A consumer of the whole stream shares every subject; it goes, and sharing is judged again.
    const all = sharedDecodes(nc, 'DERIVED')
    facts.decode(4, 'ben.scrubbed.metric.web-1', bytes('m'), decode)
    all.decode(4, 'ben.scrubbed.metric.web-1', bytes('m'), decode)
    expect(decodes).toBe(6)
    all.close()
    facts.decode(5, 'ben.scrubbed.metric.web-1', bytes('n'), decode)
    facts.decode(5, 'ben.scrubbed.metric.web-1', bytes('n'), decode)
    expect(decodes).toBe(8)
    for (const c of [facts, anomalies, incident]) c.close()
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
