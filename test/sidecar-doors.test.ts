/**
 * `ben sidecar` with more doors: the daemon opens OTLP and syslog on its WAL and serves
 * /metrics with its WAL gauges; everything it takes is the sidecar's own (source = its id).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSidecarDaemon, type RunningDaemon } from '../sidecar/index.js'
import { startTestNats, tempDir, type TestNats } from './support/servers.js'
import { storedAtLeast } from './support/sidecar.js'

const run = promisify(execFile)
let t: TestNats
let d: RunningDaemon
const dir = tempDir('ben-sc-doors-')

beforeAll(async () => {
  t = await startTestNats()
  d = await startSidecarDaemon({
    id: 'door-1',
    listen: '127.0.0.1:0',
    doors: { otlp: '127.0.0.1:0', syslog: '127.0.0.1:0' },
    metrics: '127.0.0.1:0',
    env: { ...process.env, BEN_HOME: join(dir.path, 'home'), BEN_NATS_URL: t.server.url },
    log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never,
  })
})
afterAll(async () => {
  await d?.stop()
  await t?.stop()
  dir.remove()
})

describe('ben sidecar --otlp --syslog --metrics', () => {
  it('takes OTLP and syslog into its WAL as its own facts, and shows its WAL on /metrics', async () => {
    const otlp = d.doors.find((x) => x.name === 'otlp')!
    const syslog = d.doors.find((x) => x.name === 'syslog')!
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'host.name', value: { stringValue: 'elsewhere' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1763700000000000000', body: { stringValue: 'via otlp from alice@example.org' } }] }],
        },
      ],
    }
    const r = await fetch(`http://127.0.0.1:${otlp.port}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    expect(r.status).toBe(200)
    await run('logger', ['--server', '127.0.0.1', '--port', String(syslog.port), '--udp', '--rfc5424', '-t', 'scdoor', 'via syslog'])
    const facts = await storedAtLeast(t.nc, 'FACTS', 'ben.fact.event.door-1', 2)
    expect(facts.map((m) => (m.fact.payload as { message: string }).message).sort()).toEqual([expect.stringMatching(/^via otlp from (?!alice@example\.org)/), 'via syslog'])
    expect(facts.every((m) => m.fact.producer === 'door-1')).toBe(true)
    const text = await (await fetch(`${d.metrics!.address}/metrics`)).text()
    expect(text).toMatch(/ben_sidecar_intake_accepted\{sidecar="door-1"\} 2/)
    expect(text).toMatch(/ben_scrub_redactions_total\{detector="[^"]+"\} [1-9]/)
    expect(text).toMatch(/ben_sidecar_wal_depth_records\{sidecar="door-1"\} \d+/)
    expect(text).toMatch(/ben_sidecar_routine_window\{sidecar="door-1"\} [1-9]\d*/) // 32 or more, up to the whole window: never 0
    expect(text).toMatch(/ben_intake_facts_total\{door="otlp",lane="event"\} [1-9]/)
  })
})
