import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { embeddedEnv, readEnv, runtimeContext, silentLogger } from '../infra/index.js'
import type { PublishOutcome } from '../streams/index.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { metricFact } from './support/facts.js'

/**
 * BEN_PUBLISH_WINDOW (`env.publishWindow`) sets how many PubAcks the context's publisher (routine
 * outputs) awaits at once (infra/runtime.ts). A synchronous run of sends sees no PubAck, so exactly the window's worth is
 * taken; the rest wait for PubAcks to come back, and nothing is lost.
 */
describe("a runtime context's publisher under BEN_PUBLISH_WINDOW", () => {
  let nats: TestNats
  const home = tempDir()
  beforeAll(async () => {
    nats = await startTestNats()
  })
  afterAll(async () => {
    await nats?.stop()
    home.remove()
  })

  it('takes the window’s worth of sends at once, then more once their PubAcks are in', async () => {
    const window = 64
    const ctx = runtimeContext({
      env: { ...embeddedEnv(home.path), publishWindow: readEnv({ BEN_PUBLISH_WINDOW: String(window) }).publishWindow },
      nc: nats.nc,
      topo: nats.topo,
      log: silentLogger(),
      warehouse: () => {
        throw new Error('no warehouse in this test')
      },
    })
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
})
