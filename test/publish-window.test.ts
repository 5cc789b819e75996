import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { embeddedEnv, readEnv, runtimeContext, silentLogger } from '../infra/index.js'
import type { PublishOutcome } from '../streams/index.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { metricFact } from './support/facts.js'
import { parseEdgeFact } from '../schemas/index.js'
import { streamCount } from './support/sidecar.js'

/** Holds the server still for `ms` (SIGSTOP … SIGCONT): a broker too busy to answer. The stall is the scenario, not a wait for a result. */
async function stall(nats: TestNats, ms: number): Promise<void> {
  process.kill(nats.server.pid, 'SIGSTOP')
  try {
    await new Promise((r) => setTimeout(r, ms))
  } finally {
    process.kill(nats.server.pid, 'SIGCONT')
  }
}

/**
 * BEN_PUBLISH_WINDOW (`env.publishWindow`) sets how many PubAcks the context's publisher (routine
 * outputs) awaits at once (infra/runtime.ts). A synchronous run of sends sees no PubAck, so exactly the window's worth is
 * taken; the rest wait for PubAcks to come back, and nothing is lost. BEN_PUBLISH_DELAY_MS
 * (`env.publishDelayMs`) lets the routine part of that window follow how late the server answers
 * (streams/delay-window.ts): here a real server held still by SIGSTOP.
 */
describe("a runtime context's publisher under BEN_PUBLISH_WINDOW and BEN_PUBLISH_DELAY_MS", () => {
  let nats: TestNats
  const home = tempDir()
  beforeAll(async () => {
    nats = await startTestNats()
  })
  afterAll(async () => {
    await nats?.stop()
    home.remove()
  })
  /** A runtime context on the test's server, with the publisher settings of `vars` as `ben up` reads them. */
  const contextWith = (vars: NodeJS.ProcessEnv) => {
    const { publishWindow, publishDelayMs } = readEnv(vars)
    return runtimeContext({
      env: { ...embeddedEnv(home.path), publishWindow, publishDelayMs },
      nc: nats.nc,
      topo: nats.topo,
      log: silentLogger(),
      warehouse: () => {
        throw new Error('no warehouse in this test')
      },
    })
  }

  it('takes the window’s worth of sends at once, then more once their PubAcks are in', async () => {
    const window = 64
    const ctx = contextWith({ BEN_PUBLISH_WINDOW: String(window) })
    const outcomes: PublishOutcome[] = []
    const facts = Array.from({ length: window * 3 }, (_, i) => metricFact(i))
    let taken = 0
    while (taken < facts.length && ctx.publisher.trySend(facts[taken], undefined, (o) => outcomes.push(o))) taken++
    expect(taken).toBe(window)
    expect(ctx.publisher.inFlight).toBe(window)
    for (const f of facts.slice(taken)) await ctx.publisher.send(f, undefined, (o) => outcomes.push(o))
    await waitFor('every PubAck', () => outcomes.length === facts.length, 120_000)
    expect(outcomes.filter((o) => o.status === 'stored')).toHaveLength(facts.length)
    await ctx.publisher.close()
  })

  it('under BEN_PUBLISH_DELAY_MS, holds routine facts back while the server answers late, never an alert, and stores each fact once', async () => {
    const window = 64
    const ctx = contextWith({ BEN_PUBLISH_WINDOW: String(window), BEN_PUBLISH_DELAY_MS: '5' })
    const outcomes: PublishOutcome[] = []
    const cb = (o: PublishOutcome) => void outcomes.push(o)
    let sent = 0
    const base = 1_000_000
    const fill = () => {
      let n = 0
      for (; ctx.publisher.trySend(metricFact(base + sent), undefined, cb); n++) sent++
      return n
    }
    const settled = () => waitFor('every PubAck', () => outcomes.length === sent, 120_000, 10)
    const before = await streamCount(nats.nc, 'FACTS')
    // one quick answer: the least round trip
    expect(ctx.publisher.trySend(metricFact(base + sent++), undefined, cb)).toBe(true)
    await settled()
    // windows answered 300 ms late: the routine window shrinks
    const taken: number[] = []
    for (let round = 0; round < 8 && (taken.length === 0 || taken.at(-1)! >= window); round++) {
      const stalled = stall(nats, 300)
      taken.push(fill())
      await stalled
      await settled()
    }
    expect(taken[0]).toBe(window)
    expect(ctx.publisher.routineWindow).toBeLessThan(window)
    // with the routine window full, an alert still goes out at once
    const alert = parseEdgeFact({ lane: 'alert', source: 'web-1', ts: 1_763_700_000_000, rule: 'edr.exec', severity: 'high', message: 'unexpected binary', attrs: {} })
    if (!alert.ok) throw new Error(alert.error.message)
    const stalled = stall(nats, 300)
    expect(fill()).toBe(ctx.publisher.routineWindow)
    expect(ctx.publisher.trySend(metricFact(base + sent), undefined, cb)).toBe(false)
    expect(ctx.publisher.trySend(alert.value, undefined, cb)).toBe(true)
    sent++
    await stalled
    await settled()
    expect(outcomes.filter((o) => o.status === 'stored')).toHaveLength(sent)
    expect(new Set(outcomes.map((o) => o.id)).size).toBe(sent)
    expect((await streamCount(nats.nc, 'FACTS')) - before).toBe(sent)
    await ctx.publisher.close()
  })
})
