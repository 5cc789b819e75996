import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { decodeWith, defaultRegistry, Header, type DeadLetter } from '../schemas/index.js'
import { embeddedEnv, silentLogger, startBen, type Running } from '../infra/index.js'
import { scrubService } from '../processors/wiring/index.js'
import { consumerSettled, tempDir, waitFor } from './support/servers.js'

/** Every dead letter stored so far, decoded. */
async function deadLetters(nc: NatsConnection): Promise<DeadLetter[]> {
  const total = (await (await jetstreamManager(nc)).streams.info('DLQ')).state.messages
  const out: DeadLetter[] = []
  if (total === 0) return out
  const c = await jetstream(nc).consumers.get('DLQ')
  while (out.length < total) {
    const it = await c.fetch({ max_messages: total - out.length, expires: 5000 })
    for await (const m of it) {
      const r = decodeWith(defaultRegistry(), m.data, m.headers?.get(Header.SchemaFp))
      if (!r.ok) throw new Error(`dead letter ${m.seq} does not decode: ${r.error.message}`)
      out.push(r.value as DeadLetter)
    }
  }
  return out
}

const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o))
const metric = (source: string, i: number) => json({ lane: 'metric', source, ts: 1_763_700_000_000 + i, name: 'cpu.load', value: i })

describe('delivery: everything stored in FACTS is processed or dead-lettered once, with the token at fault named', () => {
  const home = tempDir('ben-delivery-')
  let running: Running

  beforeAll(async () => {
    running = await startBen(embeddedEnv(home.path), silentLogger(), [scrubService()])
  }, 120_000)

  afterAll(async () => {
    await running?.stop()
    home.remove()
  })

  it('dead-letters unknown lanes, mistyped lanes and bad tokens with a reason that names the token; a reject at the tail of a lane is dead-lettered once and does not block the lane', async () => {
    const nc = running.ctx.nc
    const js = jetstream(nc)
    const sweep: Array<{ subject: string; reason: string; names: RegExp }> = [
      { subject: 'ben.fact.bogus.web-1', reason: 'unknown_lane', names: /token 3 .*'bogus'.* is not a lane/ },
      { subject: 'ben.fact.metrics.web-1', reason: 'unknown_lane', names: /'metrics'.*did you mean 'metric'/ },
      { subject: 'ben.fact.metric', reason: 'bad_subject', names: /no source token/ },
      { subject: 'ben.fact.metric.web-1.extra', reason: 'bad_subject', names: /after the source 'web-1'/ },
      { subject: 'ben.fact.alert.web-1.extra', reason: 'bad_subject', names: /after the source 'web-1'/ },
      { subject: 'ben.fact.alert', reason: 'bad_subject', names: /no source token/ },
    ]
    // Wildcards and empty tokens: stored only if the client and server let them through.
    for (const subject of ['ben.fact.metric.*', 'ben.fact..web-1', 'ben.fact.metric.>']) {
      const stored = await js.publish(subject, metric('web-1', 0)).then(
        () => true,
        (err) => {
          console.log(`not part of the sweep: publishing on '${subject}' is refused before FACTS (${(err as Error).message})`)
          return false
        },
      )
      if (stored) sweep.push({ subject, reason: 'bad_subject', names: subject.includes('..') ? /token 3 .* is empty/ : /is the wildcard/ })
    }
    for (const s of sweep) if (!s.subject.includes('*') && !s.subject.includes('>') && !s.subject.includes('..')) await js.publish(s.subject, metric('web-1', 1))
    // Good facts around them still go through; the last message of the lane is a reject.
    await js.publish('ben.fact.metric.web-1', metric('web-1', 2))
    await js.publish('ben.fact.alert.web-2', json({ lane: 'alert', source: 'web-2', ts: 1_763_700_000_000, rule: 'r', severity: 'high', message: 'm', attrs: {} }))
    await js.publish('ben.fact.metric.web-1', new TextEncoder().encode('not json at the tail of the lane'))
    // An input too large for a dead letter of its own (the server's max payload is 1 MiB).
    const huge = Buffer.alloc(1_040_000, 0x41)
    const hugeSeq = (await js.publish('ben.fact.event.web-3', huge)).seq

    // The lane is not blocked: scrub's consumers settle (nothing pending, nothing un-acked).
    await waitFor(
      'scrub to settle both lanes',
      async () => (await consumerSettled(nc, 'FACTS', 'stage-scrub-routine')) && (await consumerSettled(nc, 'FACTS', 'stage-scrub-alert')),
      60_000,
      100,
    )
    const letters = await deadLetters(nc)
    const bySubject = new Map<string, DeadLetter[]>()
    for (const l of letters) bySubject.set(l.subject, [...(bySubject.get(l.subject) ?? []), l])
    for (const s of sweep) {
      const got = bySubject.get(s.subject) ?? []
      expect(got, `dead letters for ${s.subject}`).toHaveLength(1)
      expect(got[0]).toMatchObject({ stage: 'scrub', reason: s.reason, stream: 'FACTS' })
      expect(got[0].message).toMatch(s.names)
    }
    // The reject at the tail: once, however long we look (its consumer has nothing to redeliver).
    const tail = letters.filter((l) => l.subject === 'ben.fact.metric.web-1')
    expect(tail).toHaveLength(1)
    expect(tail[0].reason).toBe('missing_header')
    expect(tail[0].message).toMatch(/not an edge JSON fact/)
    // The oversized one: reason, size, hash and a bounded prefix.
    const big = letters.find((l) => l.seq === hugeSeq)
    expect(big).toBeDefined()
    expect(big!.headers['Ben-Original-Bytes']).toBe(String(huge.length))
    expect(big!.headers['Ben-Original-Sha256']).toBe(createHash('sha256').update(huge).digest('hex'))
    expect(big!.data.length).toBe(Number(big!.headers['Ben-Kept-Bytes']))
    expect(Buffer.from(big!.data).equals(huge.subarray(0, big!.data.length))).toBe(true)
    expect(big!.data.length).toBeLessThan(huge.length / 4)
    expect(big!.message).toMatch(/1040000 bytes, SHA-256 [0-9a-f]{64}/)
    // The good facts came through.
    const scrubbed = await (await jetstreamManager(nc)).streams.info('DERIVED', { subjects_filter: 'ben.scrubbed.>' })
    expect(Object.keys(scrubbed.state.subjects ?? {}).sort()).toEqual(['ben.scrubbed.alert.web-2', 'ben.scrubbed.metric.web-1'])

    // A restart (the stage re-positions at its checkpoint) dead-letters nothing again.
    const before = letters.length
    await running.stop()
    running = await startBen(embeddedEnv(home.path), silentLogger(), [scrubService()])
    await js.publish('ben.fact.metric.web-1', metric('web-1', 3)).catch(() => undefined)
    const nc2 = running.ctx.nc
    await jetstream(nc2).publish('ben.fact.metric.web-1', metric('web-1', 3))
    await waitFor('scrub to settle after the restart', () => consumerSettled(nc2, 'FACTS', 'stage-scrub-routine'), 60_000, 100)
    expect((await (await jetstreamManager(nc2)).streams.info('DLQ')).state.messages).toBe(before)
  }, 300_000)
})
