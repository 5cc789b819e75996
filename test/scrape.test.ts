/**
 * Scrape mode against a real exporter: the Prometheus server's own /metrics (Go client text
 * format) pulled into metric facts on a real nats-server; checked against what that Prometheus
 * says about itself through its HTTP API. An unreachable target is counted, never thrown.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../infra/index.js'
import { FactPublisher, metricsRegistry } from '../streams/index.js'
import { parseTarget, publisherSink, scrapeOnce } from '../intake/index.js'
import { startTestNats, tempDir, waitFor, type TestNats } from './support/servers.js'
import { readStream } from './support/sidecar.js'

let t: TestNats
let publisher: FactPublisher
let prom: ChildProcess | undefined
let port: number
const dir = tempDir('ben-scrape-')

beforeAll(async () => {
  t = await startTestNats()
  publisher = new FactPublisher(t.nc, t.subjects)
  port = await freePort()
  const config = join(dir.path, 'prometheus.yml')
  writeFileSync(config, 'global:\n  scrape_interval: 1h\n')
  prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: 'ignore',
  })
  await waitFor('Prometheus to be ready', async () => (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok || undefined, 60_000, 250)
})
afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r))
    prom.kill('SIGTERM')
    await exited
  }
  await publisher?.close()
  await t?.stop()
  dir.remove()
})

describe('scrape mode', () => {
  it("pulls a real exporter's /metrics into metric facts", async () => {
    const target = parseTarget(`prom-1=http://127.0.0.1:${port}/metrics`)
    const report = await scrapeOnce(publisherSink(publisher), target)
    expect(report.error).toBeUndefined()
    expect(report.samples).toBeGreaterThan(100)
    expect(report.accepted).toBeGreaterThan(100)
    const facts = await waitFor(
      'the scraped facts',
      async () => {
        const m = await readStream(t.nc, 'FACTS', 'ben.fact.metric.prom-1')
        return m.length >= report.accepted ? m : undefined
      },
      120_000,
    )
    const byName = (n: string) => facts.map((m) => m.fact.payload as { name: string; value: number; labels: Record<string, string> }).filter((p) => p.name === n)
    const build = (await (await fetch(`http://127.0.0.1:${port}/api/v1/status/buildinfo`)).json()) as { data: { version: string; goVersion: string } }
    expect(byName('prometheus_build_info')[0]).toMatchObject({ value: 1, labels: { version: build.data.version, goversion: build.data.goVersion } })
    expect(byName('go_goroutines')[0].value).toBeGreaterThan(0)
    const buckets = byName('prometheus_http_request_duration_seconds_bucket')
    expect(buckets.length).toBeGreaterThan(0)
    expect(buckets.every((b) => b.labels.le !== undefined)).toBe(true)
  })

  it('counts a target that does not answer and goes on', async () => {
    const before = (await metricsRegistry.getSingleMetricAsString('ben_intake_dropped_total')).includes('target_down')
    const dead = await freePort()
    const r = await scrapeOnce(publisherSink(publisher), parseTarget(`http://127.0.0.1:${dead}/metrics`))
    expect(r.error).toBeDefined()
    expect(before).toBe(false)
    expect(await metricsRegistry.getSingleMetricAsString('ben_intake_dropped_total')).toMatch(/door="scrape",reason="target_down"\} 1/)
  })
})
