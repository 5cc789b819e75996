import { describe, expect, it } from 'vitest'
import { FactCodec, parseEdgeFact, type Fact } from '../../schemas/index.js'
import type { Envelope } from '../../streams/index.js'
import { HandedEnvelope, Handoff, HandoffGate } from './handoff.js'

const codec = new FactCodec()
const alert = (): Fact => {
  const r = parseEdgeFact({ lane: 'alert', source: 'web-1', ts: 1_763_700_000_000, rule: 'edr.exec', severity: 'high', message: 'x', attrs: {} })
  if (!r.ok) throw new Error(r.error.message)
  return r.value
}
/** A JetStream delivery as the gate sees it. */
const delivery = (seq: number, pending = 0, redelivered = false): Envelope => ({ seq, pending, redelivered }) as unknown as Envelope
const handed = (seq: number) => new HandedEnvelope(alert(), 'ben.scrubbed.alert.web-1', seq, 'DERIVED', codec)

describe('the handoff gate (one urgent lane)', () => {
  it('takes handed inputs only while the lane is caught up, and only past its position', () => {
    const g = new HandoffGate()
    expect(g.accepts(10, 0), 'closed until the consumer is caught up').toBe(false)
    g.delivered(delivery(5, 2))
    expect(g.accepts(10, 5), 'two more are pending behind seq 5').toBe(false)
    g.delivered(delivery(7, 0))
    expect(g.accepts(7, 7), 'already applied').toBe(false)
    expect(g.accepts(10, 7)).toBe(true)
  })

  it("knows the JetStream copy of a handed input (once), never a handed envelope's", () => {
    const g = new HandoffGate()
    g.open = true
    expect(g.accepts(10, 7)).toBe(true)
    expect(g.copyOf(handed(10))).toBe(false)
    expect(g.copyOf(delivery(10))).toBe(true)
    expect(g.copyOf(delivery(10)), 'a second time it is a redelivery, not the copy').toBe(false)
  })

  it('applies late, and closes, a first delivery that a handed input overtook; not a redelivery or a copy', () => {
    const g = new HandoffGate()
    g.open = true
    g.accepts(12, 7)
    const warned: object[] = []
    const log = { warn: (o: object) => void warned.push(o) }
    expect(g.late(delivery(12), log, 'policy'), 'the copy of the handed input').toBe(false)
    expect(g.late(delivery(9, 0, true), log, 'policy'), 'a redelivery of something applied').toBe(false)
    expect(g.late(handed(9), log, 'policy')).toBe(false)
    expect(g.late(delivery(9), log, 'policy'), 'seq 9 was stored before 12 by another writer').toBe(true)
    expect(g.open).toBe(false)
    expect(g.lateInputs).toBe(1)
    expect(warned).toHaveLength(1)
  })
})

describe('the handoff', () => {
  it('offers a committed fact to the takers of its stream whose filter matches, until they stop', () => {
    const h = new Handoff()
    const got: Array<[string, number]> = []
    const stop = h.take('DERIVED', 'ben.scrubbed.alert.>', (_f, subject, seq) => got.push([subject, seq]))
    h.offer('DERIVED', 'ben.scrubbed.alert.web-1', alert(), 3)
    h.offer('DERIVED', 'ben.scrubbed.metric.web-1', alert(), 4)
    h.offer('FACTS', 'ben.scrubbed.alert.web-1', alert(), 5)
    stop()
    h.offer('DERIVED', 'ben.scrubbed.alert.web-1', alert(), 6)
    expect(got).toEqual([['ben.scrubbed.alert.web-1', 3]])
  })

  it('gives a handed envelope the bytes a dead letter needs (the fact, encoded as stored)', () => {
    const f = alert()
    const e = handed(3)
    expect(codec.decode(e.raw.data, e.raw.fingerprint!)).toMatchObject({ ok: true, value: { id: f.id } })
    expect(e.raw.headers?.get('Ben-Schema-Fp')).toBe(e.raw.fingerprint)
  })
})
