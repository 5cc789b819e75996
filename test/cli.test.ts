import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isAlive } from '../infra/index.js'
import { ben, benUp, queryWhenReady, type Background } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

const lines = [
  '{"lane":"metric","source":"web-3","ts":1763700000000,"name":"cpu.load","value":0.73,"labels":{"job":"batch-7"}}',
  '{"lane":"event","source":"web-3","ts":1763700000100,"type":"auth.login","message":"login ok for alice","attrs":{"user":"alice"}}',
  '',
  'this is not json',
  '{"lane":"diag","source":"web-3","ts":1763700000200,"component":"disk","message":"smart warning","attrs":{}}',
  '{"lane":"alert","source":"web-3","ts":1763700000300,"rule":"edr.exec","severity":"high","message":"unexpected binary","attrs":{"path":"/tmp/x"}}',
  '{"lane":"metric","source":"web 3","ts":1763700000000,"name":"cpu.load","value":1}',
]

describe('the ben CLI, run as a user runs it', () => {
  const home = tempDir('ben-cli-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1' }
  let up: Background
  let lastPort = 0

  beforeAll(async () => {
    up = await benUp(env)
  })
  afterAll(async () => {
    await up?.stop('SIGKILL')
    const e = up?.endpoints
    home.remove()
    void e
  })

  it('fails with one line and a non-zero exit when ben up is not running', async () => {
    const other = tempDir('ben-none-')
    const r = await ben(['query', 'SELECT 1'], { BEN_HOME: other.path })
    other.remove()
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/ben up is not running/)
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/)
  })

  it('ben up prints where everything is and announces itself on HELLO', async () => {
    expect(up.output()).toMatch(/NATS\s+nats:\/\/127\.0\.0\.1:\d+ \(embedded\)/)
    expect(up.output()).toMatch(/ClickHouse\s+embedded chDB at /)
    const r = await ben(['tail', 'ben.hello.>', '--all', '--limit', '1'], env)
    const hello = JSON.parse(r.stdout.trim())
    expect(hello).toMatchObject({ subject: 'ben.hello.ben-up', fact: { component: 'ben-up', info: { nats: 'embedded', clickhouse: 'embedded' } } })
    expect(hello.fact.info.services).toMatch(/stage:scrub/)
  })

  it('ben publish stores valid lines and names the rejected ones by line number', async () => {
    const file = join(home.path, 'facts.ndjson')
    writeFileSync(file, lines.join('\n') + '\n')
    const r = await ben(['publish', file, '--format', 'json'], env)
    expect(r.code).toBe(3)
    const summary = JSON.parse(r.stdout)
    expect(summary).toMatchObject({ stored: 4, duplicate: 0, rejected: 2, deadLettered: 2, failed: 0 })
    // Refused lines are dead-lettered like raw publishes are: reason and the line as given.
    const dlq = await ben(['tail', 'ben.dlq.publish', '--all', '--limit', '2'], env)
    expect(dlq.code, dlq.stderr).toBe(0)
    const letters = dlq.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(letters.map((l) => JSON.stringify(l)).join('\n')).toMatch(/not_json/)
    expect(letters.map((l) => JSON.stringify(l)).join('\n')).toMatch(/invalid/)
    expect(summary.rejections).toEqual([
      expect.objectContaining({ line: 4, reason: 'not_json' }),
      expect.objectContaining({ line: 7, reason: 'invalid', message: expect.stringMatching(/^source: /) }),
    ])
    const again = await ben(['publish', '-'], env, lines.slice(0, 2).join('\n'))
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/stored 0, duplicate 2, rejected 0, failed 0/)
  })

  it('ben tail follows a stream as JSON lines, decoding Avro', async () => {
    const r = await ben(['tail', 'ben.fact.>', '--all', '--limit', '4'], env)
    expect(r.code).toBe(0)
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(got.map((g) => g.fact.kind)).toEqual(['metric', 'event', 'diag', 'alert'])
    expect(got[0]).toMatchObject({ stream: 'FACTS', subject: 'ben.fact.metric.web-3', fact: { source: 'web-3', payload: { name: 'cpu.load', value: 0.73 } } })
  })

  it('ben query answers through ben up, as a table or JSON, and refuses writes', async () => {
    const rows = await queryWhenReady<{ kind: string; n: string }>(env, 'SELECT kind, count() AS n FROM facts GROUP BY kind ORDER BY kind', (v) => v.length === 4)
    expect(rows.map((r) => [r.kind, Number(r.n)])).toEqual([
      ['alert', 1],
      ['diag', 1],
      ['event', 1],
      ['metric', 1],
    ])
    const table = await ben(['query', "SELECT message FROM facts WHERE kind = 'event'"], env)
    expect(table.stdout).toContain('login ok for alice')
    expect(table.stdout).toMatch(/1 row/)
    const write = await ben(['query', 'DROP TABLE facts'], env)
    expect(write.code).not.toBe(0)
    expect(write.stderr).toMatch(/read-only/)
    const bad = await ben(['query', 'SELECT nope FROM facts'], env)
    expect(bad.code).not.toBe(0)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('ben streams lists streams and consumers', async () => {
    const r = await ben(['streams', '--format', 'json'], env)
    expect(r.code).toBe(0)
    const streams = JSON.parse(r.stdout) as Array<{ stream: string; messages: number; consumers: Array<{ name: string; pending: number }> }>
    const facts = streams.find((s) => s.stream === 'FACTS')
    expect(facts?.messages).toBe(4)
    expect(facts?.consumers.map((c) => c.name)).toEqual(expect.arrayContaining(['stage-scrub-alert', 'stage-scrub-routine']))
    const derived = streams.find((s) => s.stream === 'DERIVED')
    expect(derived?.consumers.map((c) => c.name)).toEqual(expect.arrayContaining(['proj-facts-scrubbed', 'stage-detect-metric']))
    expect(streams.map((s) => s.stream)).toEqual(expect.arrayContaining(['FACTS', 'DERIVED', 'COMMANDS', 'DLQ', 'HELLO']))
  })

  it('ben manifest apply: a new revision takes effect in the running scrub stage without a restart', async () => {
    const bad = join(home.path, 'bad.yaml')
    writeFileSync(bad, 'version: 1\nname: x\nfields:\n  - { path: attrs.build, rule: shred }\n')
    const refused = await ben(['manifest', 'apply', bad], env)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/fields\[0\]/)

    const manifest = join(home.path, 'manifest.yaml')
    writeFileSync(manifest, 'version: 1\nname: strict\nfields:\n  - { path: attrs.build, rule: mask }\n')
    const applied = await ben(['manifest', 'apply', manifest], env)
    expect(applied.code, applied.stderr).toBe(0)
    const revision = Number(/revision (\d+)/.exec(applied.stdout)?.[1])
    expect(revision).toBeGreaterThan(0)
    const shown = await ben(['manifest', 'show', '--format', 'json'], env)
    expect(JSON.parse(shown.stdout)).toMatchObject({ revision, builtin: false, text: expect.stringContaining('name: strict') })

    const line = '{"lane":"event","source":"web-9","ts":1763700009000,"type":"deploy","message":"deployed","attrs":{"build":"b-4711"}}'
    expect((await ben(['publish', '-'], env, line)).code).toBe(0)
    const [row] = await queryWhenReady<{ build: string; rev: number }>(
      env,
      "SELECT labels['build'] AS build, config['ben-redaction'] AS rev FROM facts WHERE source = 'web-9'",
      (v) => v.length > 0,
    )
    expect(row.build).not.toContain('4711')
    expect(Number(row.rev)).toBe(revision)
  })

  it('every command has --help with examples', async () => {
    for (const cmd of ['up', 'publish', 'tail', 'query', 'streams']) {
      const r = await ben([cmd, '--help'], env)
      expect(r.code, cmd).toBe(0)
      expect(r.stdout, cmd).toMatch(/Examples:/)
    }
  })

  it('Ctrl-C stops ben up and its nats-server, leaving no process behind', async () => {
    const natsPid = up.endpoints().natsPid
    lastPort = up.endpoints().natsPort
    const pid = up.child.pid
    expect(natsPid && isAlive(natsPid)).toBe(true)
    const code = await up.stop('SIGINT')
    expect(code).toBe(0)
    expect(isAlive(pid)).toBe(false)
    await waitFor('nats-server to exit', () => !isAlive(natsPid) || undefined, 120_000)
    expect(up.output()).toMatch(/stopped\./)
  })

  it('ben up again on the same BEN_HOME keeps the NATS port and the data', async () => {
    up = await benUp(env)
    expect(up.endpoints().natsPort).toBe(lastPort)
    const r = await ben(['query', "SELECT count() AS n FROM facts WHERE source = 'web-3'", '--format', 'json'], env)
    expect(Number(JSON.parse(r.stdout)[0].n)).toBe(4)
    expect(await up.stop('SIGTERM')).toBe(0)
  })
})
