/**
 * Webhook notifications against a real nats-server and a real HTTP receiver: anomalies in
 * DERIVED reach the notifiers whose filter matches, in the Alertmanager or plain JSON format,
 * signed with HMAC; a receiver that fails at first gets retries; one that never answers sends
 * the notification to ben.dlq.notify with the reason; and a KV change applies without a restart.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultRegistry, FactCodec, type AnomalyFact } from '../schemas/index.js'
import { DeadLetters, FactPublisher } from '../streams/index.js'
import { freePort, type RuntimeContext } from '../infra/index.js'
import { notifyService, openNotifyBucket, parseNotifier, putNotifier } from '../notify/index.js'
import { consumerSettled, startTestNats, waitFor, type TestNats } from './support/servers.js'
import { readStream } from './support/sidecar.js'

const SECRET = 'a-long-shared-secret-for-hmac'
let t: TestNats
let publisher: FactPublisher
let receiver: Server
let port: number
let flakyFailures = 0
const got: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = []
let stopService: (() => Promise<void>) | undefined

beforeAll(async () => {
  t = await startTestNats()
  publisher = new FactPublisher(t.nc, t.subjects)
  receiver = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      if (req.url === '/flaky' && flakyFailures < 2) {
        flakyFailures++
        res.writeHead(503).end()
        return
      }
      got.push({ path: req.url ?? '', headers: req.headers, body })
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()))
  port = (receiver.address() as { port: number }).port
})
afterAll(async () => {
  await stopService?.()
  await new Promise((r) => receiver.close(r))
  await publisher.close()
  await t.stop()
})

let n = 0
function anomaly(source: string, severity: string): AnomalyFact {
  n++
  return {
    id: `an-${n}`,
    ts: 1_763_700_000_000 + n,
    source,
    lane: 'anomaly',
    kind: 'anomaly',
    payload: {
      metric: 'cpu.load',
      value: 0.99,
      score: 0.97,
      threshold: 0.5,
      detectors: [{ name: 'ewma', score: 0.97, raw: 9, threshold: 3 }],
      baseline: { centre: 0.3, spread: 0.1 },
      severity,
      labels: { job: 'batch-7' },
    },
    lineage: ['m-1'],
    producer: 'detect@1',
    config: {},
    explain: `cpu.load on ${source} is far above its baseline`,
  }
}

describe('webhook notifications', () => {
  it('delivers matching anomalies (Alertmanager and JSON, signed, retried), dead-letters the undeliverable, follows KV changes', async () => {
    const dead = await freePort()
    const kv = await openNotifyBucket(t.nc)
    const add = async (o: Record<string, unknown>) => {
      const r = parseNotifier(o)
      if (!r.ok) throw new Error(r.message)
      await putNotifier(kv, r.value)
    }
    await add({ name: 'am', url: `http://127.0.0.1:${port}/am`, format: 'alertmanager', minSeverity: 'medium', source: 'web-*', kinds: ['anomaly'] })
    await add({ name: 'flaky', url: `http://127.0.0.1:${port}/flaky`, format: 'json', minSeverity: 'critical', secret: SECRET, retries: 4, backoffMs: 20 })
    await add({ name: 'gone', url: `http://127.0.0.1:${dead}/hook`, minSeverity: 'critical', source: 'db-*', retries: 2, backoffMs: 20 })
    const codec = new FactCodec(defaultRegistry())
    const ctx = {
      nc: t.nc,
      subjects: t.subjects,
      topo: t.topo,
      codec,
      publisher,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined },
      dlq: (stage: string) => new DeadLetters(publisher, t.subjects, codec, stage),
    } as unknown as RuntimeContext
    const svc = await notifyService()(ctx)
    stopService = () => svc.stop()
    // the durables start at what is new: wait until they exist before publishing
    const { jetstreamManager } = await import('@nats-io/jetstream')
    const jsm = await jetstreamManager(t.nc)
    await waitFor('notify durables', async () => (await jsm.consumers.info('DERIVED', 'notify-anomaly').catch(() => undefined)) ?? undefined, 120_000)

    const facts = [anomaly('web-1', 'high'), anomaly('web-2', 'low'), anomaly('db-1', 'critical'), anomaly('web-3', 'critical')]
    for (const f of facts) expect((await publisher.publish(f, t.subjects.anomaly(f.payload.severity, f.source))).status).toBe('stored')

    // am: web-1 (high) and web-3 (critical), not web-2 (low) nor db-1 (source); flaky: db-1 and web-3 (critical) after retries
    await waitFor('4 deliveries', () => (got.length >= 4 ? true : undefined), 60_000)
    const am = got
      .filter((g) => g.path === '/am')
      .map(
        (g) =>
          JSON.parse(g.body) as {
            version: string
            status: string
            receiver: string
            alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }>
          },
      )
    expect(am.map((a) => a.alerts[0].labels.source).sort()).toEqual(['web-1', 'web-3'])
    expect(am[0]).toMatchObject({ version: '4', status: 'firing', receiver: 'am' })
    expect(am[0].alerts[0].labels).toMatchObject({ alertname: 'ben_anomaly', metric: 'cpu.load' })
    expect(am[0].alerts[0].annotations.description).toMatch(/far above its baseline/)
    const flaky = got.filter((g) => g.path === '/flaky')
    expect(flaky.map((g) => (JSON.parse(g.body) as { source: string }).source).sort()).toEqual(['db-1', 'web-3'])
    expect(flakyFailures).toBe(2)
    for (const g of flaky) {
      const want = `sha256=${createHmac('sha256', SECRET).update(`${g.headers['x-ben-timestamp']}.${g.body}`).digest('hex')}`
      expect(g.headers['x-ben-signature']).toBe(want)
    }
    expect(got.filter((g) => g.path === '/am').every((g) => g.headers['x-ben-signature'] === undefined)).toBe(true)

    // gone: db-1 is undeliverable → DLQ with the reason and the notifier
    const letters = await waitFor(
      'a dead letter',
      async () => {
        const m = await readStream(t.nc, 'DLQ', `${t.subjects.prefix}.dlq.notify`).catch(() => [])
        return m.length ? m : undefined
      },
      60_000,
    )
    expect(letters.length).toBe(1)
    const letter = letters[0].fact as unknown as { reason: string; message: string }
    expect(letter.reason).toBe('undeliverable')
    expect(letter.message).toMatch(/notifier gone: .*after 3 attempts/)

    // a KV change applies without a restart: lower am's threshold, a low web anomaly now goes out
    await add({ name: 'am', url: `http://127.0.0.1:${port}/am`, format: 'alertmanager', minSeverity: 'low', source: 'web-*', kinds: ['anomaly'] })
    // Each round publishes a low web anomaly and waits until notify has settled it (delivered or
    // filtered out, then acked): the new config has applied once one of them reached am.
    await waitFor(
      'the new config to apply',
      async () => {
        const f = anomaly('web-9', 'low')
        await publisher.publish(f, t.subjects.anomaly('low', f.source))
        await waitFor('notify to settle the anomaly', () => consumerSettled(t.nc, 'DERIVED', 'notify-anomaly'), 120_000, 10)
        return got.some((g) => g.path === '/am' && g.body.includes('"web-9"')) || undefined
      },
      180_000,
      10,
    )
  })
})
