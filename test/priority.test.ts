import { afterAll, describe, expect, it } from 'vitest'
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { FactPublisher } from '../streams/index.js'
import { parseEdgeFact } from '../schemas/index.js'
import { readEnv, silentLogger, startBen, type Running, type ServiceFactory } from '../infra/index.js'
import { detectService, policyService, scrubService } from '../processors/wiring/index.js'
import { consumerSettled, tempDir, waitFor } from './support/servers.js'
import { metricFacts } from './support/facts.js'

/** Stream sequence of the last message on an exact subject, or undefined. */
async function lastSeq(nc: NatsConnection, stream: string, subject: string): Promise<number | undefined> {
  const jsm = await jetstreamManager(nc)
  return jsm.streams.getMessage(stream, { last_by_subj: subject }).then(
    (m) => m?.seq,
    () => undefined,
  )
}

const BACKLOG = 40_000
const SOURCES = 10

/**
 * Issue 8, item 3 (the lanes' promise, as behaviour, not timing): with a routine backlog that scrub
 * has not worked through yet, an alert published after the whole backlog comes out of scrub and
 * out of policy (its decision) before the backlog is drained. Without priority it would be stored
 * after the last scrubbed routine fact (FIFO); the assertion compares stream sequences in DERIVED.
 */
describe('priority lanes: an alert never queues behind a routine backlog', () => {
  const home = tempDir('ben-prio-')
  let running: Running | undefined
  const start = (services: ServiceFactory[]) =>
    startBen({ ...readEnv({ BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }), natsUrl: undefined, clickhouseUrl: process.env.BEN_CLICKHOUSE_URL }, silentLogger(), services)

  afterAll(async () => {
    await running?.stop()
    home.remove()
  })

  it('an alert published after a routine backlog is scrubbed and decided before the backlog drains', async () => {
    // The backlog is stored while no stage runs: scrub finds all of it waiting when it starts.
    running = await start([])
    const quiet = new FactPublisher(running.ctx.nc, running.ctx.subjects, running.ctx.codec)
    const r = await quiet.publishAll(metricFacts(BACKLOG))
    expect(r.stored).toBe(BACKLOG)
    await quiet.close()
    await running.stop()

    running = await start([scrubService(), detectService(), policyService()])
    const nc = running.ctx.nc
    // Scrub has started on the backlog (the routine lane is busy) when the alert comes.
    await waitFor('scrub to be working through the routine backlog', async () => ((await lastSeq(nc, 'DERIVED', 'ben.scrubbed.metric.web-0')) ?? 0) > 0 || undefined, 120_000, 20)
    const alert = parseEdgeFact({
      lane: 'alert',
      source: 'prio-1',
      ts: 1_763_700_999_000,
      rule: 'edr.exec',
      severity: 'high',
      message: 'unexpected binary',
      attrs: { path: '/tmp/x' },
    })
    if (!alert.ok) throw new Error(alert.error.message)
    const publisher = new FactPublisher(nc, running.ctx.subjects, running.ctx.codec)
    expect((await publisher.publishAll([alert.value])).stored).toBe(1)
    await publisher.close()

    // Everything is processed in the end (the backlog too): then compare where each landed.
    await waitFor(
      'scrub and policy to settle every lane',
      async () =>
        (await consumerSettled(nc, 'FACTS', 'stage-scrub-routine')) &&
        (await consumerSettled(nc, 'FACTS', 'stage-scrub-alert')) &&
        (await consumerSettled(nc, 'DERIVED', 'stage-policy-alert')),
      300_000,
      200,
    )
    const routineSeqs = await Promise.all(Array.from({ length: SOURCES }, (_, i) => lastSeq(nc, 'DERIVED', `ben.scrubbed.metric.web-${i}`)))
    const lastRoutine = Math.max(...routineSeqs.map((s) => s ?? 0))
    const scrubbedAlert = await lastSeq(nc, 'DERIVED', 'ben.scrubbed.alert.prio-1')
    const decisions = (await Promise.all(['ignore', 'alert', 'propose', 'act'].map((o) => lastSeq(nc, 'DERIVED', `ben.decision.${o}.prio-1`)))).filter(
      (s): s is number => s !== undefined,
    )
    const scrubbedRoutine = (await (await jetstreamManager(nc)).streams.info('DERIVED', { subjects_filter: 'ben.scrubbed.metric.>' })).state.subjects ?? {}
    expect(
      Object.values(scrubbedRoutine).reduce((a, b) => a + b, 0),
      'the whole backlog was scrubbed in the end',
    ).toBe(BACKLOG)
    expect(scrubbedAlert, 'the alert was scrubbed').toBeDefined()
    expect(decisions, 'policy decided on the alert').toHaveLength(1)
    console.log(`priority: routine backlog ${BACKLOG}, last scrubbed routine fact at DERIVED seq ${lastRoutine}; alert scrubbed at ${scrubbedAlert}, decided at ${decisions[0]}`)
    expect(scrubbedAlert!, 'the alert came out of scrub before the routine backlog drained').toBeLessThan(lastRoutine)
    expect(decisions[0], 'the alert came out of policy before the routine backlog drained').toBeLessThan(lastRoutine)
  }, 600_000)
})
