/**
 * Ben's /metrics scraped by a real Prometheus (Debian's prometheus 2.x) and queried over its
 * HTTP API: `ben up --metrics --otlp` runs as a user runs it; facts come in through the OTLP
 * door; Prometheus sees publish outcomes, intake counts by door and lane, stage throughput,
 * consumer lag per durable, stream sizes and process stats, and loads the shipped alerting rules.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePorts } from '../infra/index.js'
import { packageRoot } from '../schemas/index.js'
import { ben, benUp, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const RULES = join(packageRoot(), 'telemetry', 'ben-alerts.yml')
const run = promisify(execFile)
const dir = tempDir('ben-prom-')
let up: Background | undefined
let prom: ChildProcess | undefined
let promLog = ''
let ports: { metrics: number; otlp: number; prom: number; syslog: number }

async function promQuery(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await fetch(`http://127.0.0.1:${ports.prom}/api/v1/query?query=${encodeURIComponent(q)}`)
  const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
  if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`)
  return body.data.result
}

beforeAll(async () => {
  const [metrics, otlp, promPort, syslog] = await freePorts(4)
  ports = { metrics, otlp, prom: promPort, syslog }
  up = await benUp({ BEN_HOME: join(dir.path, 'home') }, ['--metrics', `127.0.0.1:${ports.metrics}`, '--otlp', `127.0.0.1:${ports.otlp}`, '--syslog', `127.0.0.1:${ports.syslog}`])
  const config = join(dir.path, 'prometheus.yml')
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${RULES}\nscrape_configs:\n  - job_name: ben\n    static_configs:\n      - targets: ['127.0.0.1:${ports.metrics}']\n`,
  )
  prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'tsdb')}`, `--web.listen-address=127.0.0.1:${ports.prom}`, '--log.level=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  prom.stdout!.on('data', (b) => (promLog += b))
  prom.stderr!.on('data', (b) => (promLog += b))
  await waitFor('Prometheus to be ready', async () => (await fetch(`http://127.0.0.1:${ports.prom}/-/ready`).catch(() => undefined))?.ok || undefined, 60_000, 250)
})

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r))
    prom.kill('SIGTERM')
    await exited
  }
  await up?.stop()
  dir.remove()
})

describe('Prometheus scrapes ben up --metrics', () => {
  it('sees Ben up, its intake, publishes, stages, lag and process stats, and loads the alerting rules', async () => {
    // facts in through the OTLP door (JSON, as any OTLP client may send)
    const records = Array.from({ length: 50 }, (_, i) => ({ timeUnixNano: String((1_763_700_000_000 + i) * 1e6), severityText: 'INFO', body: { stringValue: `hello ${i}` } }))
    const r = await fetch(`http://127.0.0.1:${ports.otlp}/v1/logs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'prom-web-1' } }] }, scopeLogs: [{ logRecords: records }] }] }),
    })
    expect(r.status).toBe(200)
    // one bad request: counted as a drop
    expect((await fetch(`http://127.0.0.1:${ports.otlp}/v1/logs`, { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: 'a,b' })).status).toBe(415)

    // and through the syslog door, with util-linux logger
    for (let i = 0; i < 5; i++) await run('logger', ['--server', '127.0.0.1', '--port', String(ports.syslog), '--tcp', '--rfc5424', '-t', 'promtest', `syslog line ${i}`])

    await waitFor('Prometheus to scrape Ben', async () => (await promQuery('up{job="ben"}'))[0]?.value[1] === '1' || undefined, 60_000, 500)
    const value = async (q: string) => Number((await promQuery(q))[0]?.value[1] ?? NaN)
    await waitFor('50 OTLP facts counted by door and lane', async () => (await value('sum(ben_intake_facts_total{door="otlp",lane="event"})')) === 50 || undefined, 60_000, 500)
    expect(await value('sum(ben_intake_dropped_total{door="otlp",reason="unsupported_media"})')).toBe(1)
    await waitFor('5 syslog facts counted', async () => (await value('sum(ben_intake_facts_total{door="syslog",lane="event"})')) === 5 || undefined, 60_000, 500)
    // the door's 50 publishes, then scrub's 50 derived facts: publish outcomes are counted now
    await waitFor('publish outcomes', async () => (await value('sum(ben_publish_total{status="stored"})')) >= 100 || undefined, 60_000, 500)
    await waitFor('scrub throughput', async () => (await value('sum(ben_stage_facts_in_total{stage="scrub"})')) >= 50 || undefined, 60_000, 500)
    expect(await value('ben_stream_messages{stream="FACTS"}')).toBeGreaterThanOrEqual(50)
    expect(await value('ben_jetstream_up')).toBe(1)
    const lag = await promQuery('ben_consumer_pending')
    expect(lag.length).toBeGreaterThan(3)
    const consumers = lag.map((x) => x.metric.consumer)
    expect(consumers.some((c) => c.startsWith('proj-'))).toBe(true) // projector lag
    expect(consumers.some((c) => c.startsWith('stage-'))).toBe(true) // stage partitions
    expect(await value('process_resident_memory_bytes{job="ben"}')).toBeGreaterThan(10e6)
    // labels stay low-cardinality: no source or id in any series
    const series = (await (await fetch(`http://127.0.0.1:${ports.prom}/api/v1/series?match[]={job="ben"}`)).json()) as { data: Array<Record<string, string>> }
    expect(series.data.length).toBeGreaterThan(20)
    expect(JSON.stringify(series.data)).not.toContain('prom-web-1')

    const rules = (await (await fetch(`http://127.0.0.1:${ports.prom}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } }
    const loaded = rules.data.groups.flatMap((g) => g.rules)
    expect(loaded.length).toBe(11)
    await waitFor(
      'every rule evaluated healthy',
      async () => {
        const now = (await (await fetch(`http://127.0.0.1:${ports.prom}/api/v1/rules`)).json()) as typeof rules
        return now.data.groups.flatMap((g) => g.rules).every((x) => x.health === 'ok') || undefined
      },
      60_000,
      500,
    )
    const { stdout } = await run('promtool', ['check', 'rules', RULES])
    expect(stdout).toContain('SUCCESS: 11 rules found')
  })

  it('ben notify add, list and remove against the running ben up (configs in KV)', async () => {
    const env = { BEN_HOME: join(dir.path, 'home') }
    const bad = await ben(['notify', 'add', 'Oncall', '--url', 'ftp://x'], env)
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/name: must be .*lowercase/)
    const add = await ben(['notify', 'add', 'oncall', '--url', 'http://127.0.0.1:9/hook', '--format', 'alertmanager', '--min-severity', 'critical', '--source', 'web-*'], env)
    expect(add.stderr).toBe('')
    expect(add.stdout).toMatch(/notifier oncall saved \(revision \d+\): alertmanager to http:\/\/127.0.0.1:9\/hook, anomaly\/incident\/proposal at critical or above from web-\*/)
    const list = await ben(['notify', 'list', '--format', 'json'], env)
    const listed = JSON.parse(list.stdout) as { notifiers: Array<{ name: string; minSeverity: string; secret: string }> }
    expect(listed.notifiers).toEqual([expect.objectContaining({ name: 'oncall', minSeverity: 'critical', secret: 'none' })])
    expect((await ben(['notify', 'remove', 'oncall'], env)).stdout).toContain('notifier oncall removed')
    expect((await ben(['notify', 'remove', 'oncall'], env)).stderr).toContain('no notifier named oncall')
    expect((await ben(['notify', 'list'], env)).stdout).toContain('no notifiers')
  })
})
