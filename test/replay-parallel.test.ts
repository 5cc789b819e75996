import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { jetstreamManager } from '@nats-io/jetstream'
import { FactCodec, parseEdgeFact, type RawFact } from '../schemas/index.js'
import { FactPublisher, storedMsgIds } from '../streams/index.js'
import { generateKeyPair } from '../keys/index.js'
import { generate } from '../simulate/index.js'
import { clientWarehouse, replayWindow, type ReplayDeps, type ReplayResult } from '../replay/index.js'
import { LiveRecorder } from '../bench/replay-live.js'
import { defaultPackPath } from '../processors/policy/index.js'
import { openTestClickHouse, startTestNats, type TestNats } from './support/servers.js'

/**
 * The replay's parallel path (scrub, detect and the scrubbed compare on worker threads, each
 * owning a set of sources; outputs merged by read position) must give exactly what the
 * one-thread path gives: same counts, same kinds in the same order, same diffs in the same
 * order, same incidents and stats. The store is a recording of a 7-host fleet (runaways,
 * a secret leak, background alerts) made in process with the live stage graph, then tampered
 * with so that there are diffs on both sides of the split: scrubbed facts deleted (extra,
 * rebuilt on a worker) and forged (missing, compared on a worker), an anomaly deleted (extra,
 * compared on the reading thread).
 */
describe('replay on worker threads', () => {
  let nats: TestNats
  let wh: Awaited<ReturnType<typeof openTestClickHouse>>
  let deps: ReplayDeps
  let publisher: FactPublisher
  const codec = new FactCodec()
  const tampered: string[] = []

  beforeAll(async () => {
    nats = await startTestNats()
    wh = await openTestClickHouse()
    publisher = new FactPublisher(nats.nc, nats.subjects, codec)
    const issuer = generateKeyPair('issuer', new Uint8Array(32).fill(9))
    const live = new LiveRecorder(publisher, nats.subjects, issuer)
    const start = Date.now() - 400_000
    const { facts } = generate(
      {
        hosts: 7,
        seed: 'parallel',
        startTs: start,
        rate: 120,
        alertEveryMs: 30_000,
        scenarios: [
          { kind: 'cpu-runaway', host: 'web-2', atMs: 150_000, durationMs: 40_000 },
          { kind: 'cpu-runaway', host: 'web-5', atMs: 220_000, durationMs: 30_000 },
          { kind: 'secret-leak', host: 'web-3', atMs: 100_000 },
        ],
      },
      start + 300_000,
    )
    const raw = facts.map((e) => {
      const r = parseEdgeFact(e)
      if (!r.ok) throw r.error
      return r.value
    })
    // small chunks: a raw fact and the derived facts that reveal its processing order are close (a few hundred
    // messages apart), so the merge of worker outputs with the control steps must be exact to the message
    for (let i = 0; i < raw.length; i += 200) await live.chunk(raw.slice(i, i + 200))
    expect(live.stats.failed).toBe(0)
    expect(live.stats.anomalies, 'the runaways were detected live').toBeGreaterThan(0)
    expect(live.stats.incidents).toBeGreaterThan(0)

    // Tamper: delete 3 recorded scrubbed metrics of different sources and one anomaly; forge 2 scrubbed facts.
    const jsm = await jetstreamManager(nats.nc)
    const s = nats.subjects
    const firstAfter = async (filter: string, after: number) => {
      const found: { id: string; seq: number }[] = []
      await storedMsgIds(nats.nc, 'DERIVED', filter, after, (id, seq) => void (id && found.push({ id, seq })))
      expect(found.length, `a message on ${filter} after ${after}`).toBeGreaterThan(0)
      return found[0]
    }
    for (const m of [
      await firstAfter(`${s.prefix}.scrubbed.metric.web-2`, 2000),
      await firstAfter(`${s.prefix}.scrubbed.metric.web-4`, 4000),
      await firstAfter(`${s.prefix}.scrubbed.metric.web-7`, 9000),
      await firstAfter(`${s.prefix}.anomaly.>`, 0),
    ]) {
      tampered.push(m.id.replace(/^[^:]*:/, '')) // a scrubbed fact's Nats-Msg-Id is <source>:<id>
      await jsm.streams.deleteMessage('DERIVED', m.seq)
    }
    let forgeFailed = 0
    for (const [i, host] of ['web-1', 'web-6'].entries()) {
      const forged = { ...raw.find((f) => f.source === host && f.kind === 'metric')!, id: `forged-${i}-${'0'.repeat(24)}` } as RawFact
      await publisher.send(forged, s.forFact(forged, { scrubbed: true }), (o) => void (o.status === 'failed' && forgeFailed++))
    }
    await publisher.flush()
    expect(forgeFailed).toBe(0)
    deps = { nc: nats.nc, subjects: s, warehouse: clientWarehouse(wh.client), issuer, codec }
  }, 300_000)

  afterAll(async () => {
    await publisher?.close()
    await wh?.close()
    wh?.removeDir()
    await nats?.stop()
  })

  const comparable = (r: ReplayResult) => ({
    ...r,
    stats: { ...r.stats, elapsedMs: 0, factsPerSecond: 0 },
    byKindOrder: Object.keys(r.byKind),
    diffOrder: r.diffs.map((d) => `${d.status} ${d.kind} ${d.id}`),
  })

  it('gives the one-thread result exactly, with 1 and with 3 workers, diffs and their order included', async () => {
    const window = { from: 0, to: Date.now() + 60_000 }
    const one = await replayWindow(deps, window, { read: 'jetstream', workers: 0 })
    // the tampering shows on both sides of the split
    expect(one.identical).toBe(false)
    expect(one.counts.extra, 'deleted scrubbed facts and the deleted anomaly are rebuilt as extra').toBe(4)
    expect(one.counts.missing, 'the forged scrubbed facts are missing from the rebuild').toBe(2)
    expect(new Set(one.diffs.map((d) => d.kind))).toEqual(new Set(['metric', 'anomaly']))
    expect(one.diffs.map((d) => d.id)).toEqual(expect.arrayContaining(tampered))
    expect(one.stats.control.decisions).toBeGreaterThan(0)
    expect(one.stats.control.incidents).toBeGreaterThan(0)
    expect(one.stats.telemetry.scrubbed).toBeGreaterThan(10_000)
    expect(one.byKind.alert?.identical ?? 0, 'background alerts went through the control layer').toBeGreaterThan(0)
    for (const workers of [1, 3]) {
      const par = await replayWindow(deps, window, { read: 'jetstream', workers })
      expect(comparable(par), `${workers} workers`).toEqual(comparable(one))
      expect(JSON.stringify(par.byKind)).toBe(JSON.stringify(one.byKind))
    }
  }, 300_000)

  it('a what-if policy (decisions change on the reading thread) gives the same report on workers', async () => {
    const window = { from: 0, to: Date.now() + 60_000 }
    // the default pack with its first `act` rule turned into a plain alert
    const text = readFileSync(defaultPackPath(), 'utf8').replace(/ {4}then:\n {6}outcome: act\n(?: {6}.*\n)+(?: {4}rateLimit:.*\n)?/, '    then: alert\n')
    expect(text).not.toBe(readFileSync(defaultPackPath(), 'utf8'))
    const whatIf = { path: 'softer.yaml', text }
    const one = await replayWindow(deps, window, { read: 'jetstream', workers: 0, whatIf })
    expect(one.whatIf?.kind).toBe('policy')
    expect(one.whatIf!.changes.length, 'the softer pack changes decisions').toBeGreaterThan(0)
    const par = await replayWindow(deps, window, { read: 'jetstream', workers: 2, whatIf })
    expect(comparable(par)).toEqual(comparable(one))
  }, 300_000)
})
