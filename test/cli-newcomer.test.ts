import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { connect, type Ben } from '../client/index.js'
import { approve, generateKeyPair } from '../keys/index.js'
import { defaultRegistry, decodeWith, type CommandFact } from '../schemas/index.js'
import { BEN, ben, benIn, benUp, queryWhenReady, type Background, type Run } from './support/cli.js'
import { tempDir, waitFor } from './support/servers.js'

/**
 * Issue 11, "The CLI as a newcomer meets it": each item as a user meets it, run as spawned
 * `ben` processes against a real `ben up` (nats-server + chDB). The items met with no Ben
 * running are in cli-newcomer-offline.test.ts.
 */

describe('ben as a newcomer meets it, against a running ben up', () => {
  const home = tempDir('ben-newcomer-')
  const elsewhere = tempDir('ben-newcomer-cwd-')
  const cfg = tempDir('ben-newcomer-cfg-')
  // XDG_CONFIG_HOME: the per-user record of running Bens lives in this test's own directory.
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1', XDG_CONFIG_HOME: cfg.path }
  let up: Background
  let sidecar: ChildProcess | undefined
  let lib: Ben
  const now = Date.now()

  beforeAll(async () => {
    up = await benUp(env, ['--watch'])
    lib = await connect({ home: home.path })
  }, 300_000)
  afterAll(async () => {
    await lib?.close()
    sidecar?.kill('SIGTERM')
    await up?.stop('SIGINT')
    home.remove()
    elsewhere.remove()
    cfg.remove()
  })

  it('item 10: from another directory, without BEN_HOME, commands find the running Ben; `ben status` says which and how', async () => {
    const mine = { BEN_NO_CONTAINERS: '1', XDG_CONFIG_HOME: cfg.path }
    const s = await benIn(elsewhere.path, ['status', '-o', 'json'], mine)
    expect(s.code, s.stderr).toBe(0)
    const doc = JSON.parse(s.stdout)
    expect(doc).toMatchObject({ foundBy: 'user', home: home.path, running: true, answers: true, natsUrl: up.endpoints().natsUrl, pid: up.endpoints().pid })
    const q = await benIn(elsewhere.path, ['query', 'SELECT 41 + 1 AS answer', '-o', 'json'], mine)
    expect(q.code, q.stderr).toBe(0)
    expect(JSON.parse(q.stdout)).toEqual([{ answer: 42 }])
    const t = await benIn(elsewhere.path, ['status'], mine)
    expect(t.stdout).toMatch(/found by\s+the most recent `ben up` of this user/)
    // --home and --server override the record.
    const other = await benIn(elsewhere.path, ['--home', elsewhere.path, 'query', 'SELECT 1'], mine)
    expect(other.code).toBe(5)
    expect(other.stderr).toMatch(/ben up is not running for BEN_HOME=/)
    const viaServer = await benIn(elsewhere.path, ['query', 'SELECT 1 AS one', '-o', 'json', '--server', up.endpoints().natsUrl], mine)
    expect(viaServer.code, viaServer.stderr).toBe(0)
    const st = await benIn(elsewhere.path, ['status', '-o', 'json', '--server', up.endpoints().natsUrl], mine)
    expect(JSON.parse(st.stdout).foundBy).toBe('server')
    // Without any record of this user nothing is found, and it says what it looked at.
    const none = await benIn(elsewhere.path, ['query', 'SELECT 1'], { XDG_CONFIG_HOME: elsewhere.path })
    expect(none.code).toBe(5)
    expect(none.stderr).toMatch(/ben up is not running under \.\/\.ben of .*nor recorded for this user/)
  })

  it('items 1 and 9: the proposal shows with the exact approve line; the operator key works out of the box; a refused approval can be made again', async () => {
    expect(up.output()).toMatch(/operator\s+key [0-9a-f]{16} made and registered/)
    const started = await startSidecar()
    expect(started).toMatch(/sidecar web-7 listening/)
    const alert = {
      lane: 'alert',
      source: 'web-7',
      ts: now,
      rule: 'dlp.secret',
      severity: 'high',
      message: 'secret material written to /var/log/app.log: aws_access_key',
      attrs: { path: '/var/log/app.log' },
    }
    expect((await ben(['publish', '-'], env, JSON.stringify(alert))).code).toBe(0)
    const id = await waitFor('the approve line in the live view', () => /^\s+ben approve ([0-9a-f]{8})\s+or\s+ben reject \1 --reason/m.exec(up.output())?.[1], 60_000)
    const live = up
      .output()
      .split('\n')
      .filter((l) => /^\d\d:\d\d:\d\d (ANOMALY|DECISION|COMMAND|ACK|INCIDENT)/.test(l))
    const command = live.find((l) => / COMMAND {2}proposed /.test(l))
    expect(command).toMatch(new RegExp(`quarantine_artifact → web-7 .* id ${id}$`))
    for (const l of live) expect(l.length, l).toBeLessThan(200)
    expect(live.filter((l) => / INCIDENT updated /.test(l))).toEqual([])

    // The reviewer's path: an approval signed by a key no one registered. The target refuses it…
    const rows = await waitFor('the proposal projected', async () => {
      const r = (await lib.query(`SELECT schema_fp, avro FROM commands WHERE startsWith(command_id, '${id}') AND status = 'proposed'`)).objects()
      return r.length ? r : undefined
    })
    const decoded = decodeWith(defaultRegistry(), Buffer.from(String(rows[0].avro), 'base64'), String(rows[0].schema_fp))
    if (!decoded.ok) throw decoded.error
    const stray = approve(decoded.value as CommandFact, generateKeyPair('operator'), Date.now())
    if (!stray.ok) throw stray.error
    expect((await lib.publish([stray.value])).stored).toBe(1)
    await waitFor('the target to refuse the stray approval', async () => {
      const a = (await lib.query(`SELECT status, reason FROM acks WHERE startsWith(command_id, '${id}')`)).objects()
      return a.some((x) => x.status === 'refused' && /unknown_key/.test(String(x.reason))) || undefined
    })
    // …and `ben approve` with an unregistered key is stopped before signing anything.
    expect((await ben(['keys', 'generate', '--role', 'operator', '--name', 'bob', '--no-register'], env)).code).toBe(0)
    const bob = await ben(['approve', id, '--key', 'bob'], env)
    expect(bob.code).toBe(2)
    expect(bob.stderr).toMatch(/operator key 'bob' .* is not registered.*ben keys register --name bob/)
    // The operator key `ben up` made approves the proposal, which is still approvable.
    const ok = await ben(['approve', id], env)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr).toMatch(/was refused by its target \(.*unknown_key.*\): approving again/)
    expect(ok.stdout).toMatch(/^approved quarantine_artifact on web-7 \(command [0-9a-f]+\) with operator key [0-9a-f]{16}$/m)
    await waitFor('the target to execute the approved command', async () => {
      const a = (await lib.query(`SELECT status FROM acks WHERE startsWith(command_id, '${id}') AND status = 'executed'`)).objects()
      return a.length > 0 || undefined
    })
    await waitFor('the executed ack in the live view', () => new RegExp(`ACK      executed quarantine_artifact on web-7  id ${id}`).test(up.output()) || undefined)
    const again = await ben(['approve', id], env)
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/already approved and executed/)
  })

  it('item 13: `ben incidents show` renders for the terminal; -o markdown keeps the Markdown', async () => {
    const list = await waitFor('the incident on web-7', async () => {
      const r = await ben(['incidents', '--source', 'web-7', '-o', 'json'], env)
      const v = JSON.parse(r.stdout) as Array<{ id: string }>
      return v.length ? v : undefined
    })
    const prefix = list[0].id.slice(0, 8)
    const md = await ben(['incidents', 'show', prefix, '-o', 'markdown'], env)
    expect(md.code, md.stderr).toBe(0)
    expect(md.stdout).toMatch(/quarantine\\_artifact/)
    expect(md.stdout).toMatch(/^#+ /m)
    const text = await ben(['incidents', 'show', prefix], env)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/quarantine_artifact/)
    expect(text.stdout).not.toMatch(/\\_|\\\*|^#+ /m)
    expect(text.stdout).not.toMatch(/\x1b/)
  })

  it('item 3: ben query streams every row as JSON or NDJSON, past the old 900 KB cut; --limit for every format', async () => {
    const n = 2500
    const pad = 'p'.repeat(200)
    const lines = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ lane: 'metric', source: 'bulk-1', ts: now + i, name: 'bulk.value', value: i, labels: { pad, i: String(i) } }),
    )
    const p = await ben(['publish', '-'], env, lines.join('\n'))
    expect(p.code, p.stdout + p.stderr).toBe(0)
    await queryWhenReady(env, "SELECT count() AS n FROM facts WHERE source = 'bulk-1'", (r) => Number(r[0].n) === n)
    const sql = "SELECT * FROM facts WHERE source = 'bulk-1' ORDER BY ts"
    const json = await ben(['query', sql, '-o', 'json'], env)
    expect(json.code, json.stderr).toBe(0)
    expect(json.stdout.length).toBeGreaterThan(1_000_000)
    const rows = JSON.parse(json.stdout) as Array<{ value: number }>
    expect(rows).toHaveLength(n)
    expect(rows.map((r) => Number(r.value))).toEqual(Array.from({ length: n }, (_, i) => i))
    const nd = await ben(['query', sql, '-o', 'ndjson'], env)
    const ndRows = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { value: number })
    expect(ndRows).toHaveLength(n)
    expect(Number(ndRows[n - 1].value)).toBe(n - 1)
    const limited = await ben(['query', sql, '-o', 'json', '--limit', '7'], env)
    expect(JSON.parse(limited.stdout)).toHaveLength(7)
    const table = await ben(['query', "SELECT value FROM facts WHERE source = 'bulk-1' ORDER BY ts", '--limit', '5'], env)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^5 rows \(--limit 5: there are more\)$/m)
  })

  it('item 4: a reader that goes away ends the command quietly', async () => {
    for (const format of ['ndjson', 'table']) {
      const r = await new Promise<Run>((resolve) => {
        const child = spawn(process.execPath, [BEN, 'query', "SELECT * FROM facts WHERE source = 'bulk-1'", '-o', format], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let stderr = ''
        child.stderr.on('data', (b) => (stderr += b))
        // Like `| head -1`: read a little, then close the pipe.
        child.stdout.once('data', () => child.stdout.destroy())
        child.on('close', (code) => resolve({ code, stdout: '', stderr }))
      })
      expect(r.stderr, format).toBe('')
      expect(r.code, format).toBe(0)
    }
  })

  it('item 6: slow queries answer every time, alone and side by side, in every format', async () => {
    const runs = await Promise.all([
      ben(['query', 'SELECT sleep(3) AS s'], env),
      ben(['query', 'SELECT sleep(3) AS s', '-o', 'json'], env),
      ben(['query', "SELECT count() AS n FROM facts WHERE source = 'bulk-1'", '-o', 'json'], env),
    ])
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe('')
    }
    expect(runs[0].stdout).toMatch(/^S\n0\n1 row$/m)
    expect(JSON.parse(runs[1].stdout)).toEqual([{ s: 0 }])
    for (let i = 0; i < 2; i++) {
      const r = await ben(['query', 'SELECT sleep(3) AS s', '-o', i ? 'json' : 'table'], env)
      expect(r.code, r.stderr).toBe(0)
    }
  })

  it('item 8: rejected binary input is shown with its control bytes escaped', async () => {
    const evil = Buffer.concat([Buffer.from('\x1b]0;pwned\x07\x1b[2J\x1b[31mred'), Buffer.from([0x00, 0x9b, 0xff, 0x0d])])
    const badSource = JSON.stringify({ lane: 'metric', source: 'web-\x1b[5m', ts: now, name: 'x', value: 1 })
    for (const format of ['table', 'json']) {
      const r = await ben(['publish', '-', '-o', format], env, Buffer.concat([evil, Buffer.from('\n' + badSource + '\n')]).toString('latin1'))
      expect(r.code, r.stderr).toBe(3)
      expect(r.stdout + r.stderr, format).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/)
      if (format === 'table') expect(r.stdout).toMatch(/line 1: not_json: .*\\x1b/)
      else expect(JSON.parse(r.stdout).rejected).toBe(2)
    }
    const bad = await ben(['tail', 'ben.\x1b[2J'], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).not.toMatch(/\x1b/)
    expect(bad.stderr).toMatch(/\\x1b/)
  })

  it('item 2: a malformed pattern is refused at once, the process does not hang', async () => {
    for (const pattern of ['ben. bad', 'ben.>>', 'ben..x']) {
      const r = await ben(['tail', pattern], env)
      expect(r.code, pattern).toBe(2)
      expect(r.stderr.trim().split('\n'), pattern).toHaveLength(1)
      expect(r.stderr).toMatch(/^ben: invalid subject pattern/)
    }
  })

  it('item 11: ben tail shows the last 10 first, like tail, then follows; --last N and --no-follow', async () => {
    const r = await ben(['tail', 'ben.fact.metric.bulk-1', '--no-follow'], env)
    expect(r.code, r.stderr).toBe(0)
    const got = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { fact: { payload: { value: number } } })
    expect(got.map((g) => g.fact.payload.value)).toEqual([2490, 2491, 2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499])
    const three = await ben(['tail', 'ben.fact.metric.bulk-1', '--last', '3', '--no-follow'], env)
    expect(three.stdout.trim().split('\n')).toHaveLength(3)
    const nothing = await ben(['tail', 'ben.fact.metric.nobody-here', '--no-follow'], env)
    expect(nothing.code).toBe(0)
    expect(nothing.stdout).toBe('')
    const incidents = await ben(['tail', 'incidents', '--no-follow', '-o', 'text'], env)
    expect(incidents.stdout).toMatch(/web-7/)

    // Without --no-follow: the last 10, then what comes.
    const child = spawn(process.execPath, [BEN, 'tail', 'ben.fact.metric.bulk-1'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    try {
      await waitFor('the last 10 lines', () => out.trim().split('\n').length >= 10 || undefined)
      const next = JSON.stringify({ lane: 'metric', source: 'bulk-1', ts: now + 10_000, name: 'bulk.value', value: 9999 })
      expect((await ben(['publish', '-'], env, next)).code).toBe(0)
      await waitFor('the new fact to follow', () => out.includes('"value":9999') || undefined)
      expect(out.trim().split('\n')).toHaveLength(11)
    } finally {
      child.kill('SIGINT')
    }
  })

  it('item 7: one output flag, compact tables, colour only when wanted, no cut cells when piped', async () => {
    const nd = await ben(['streams', '-o', 'ndjson'], env)
    expect(nd.code).toBe(0)
    expect(
      nd.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).stream),
    ).toEqual(expect.arrayContaining(['FACTS', 'DERIVED', 'COMMANDS']))
    const md = await ben(['incidents', '-o', 'markdown'], env)
    expect(md.stdout).toMatch(/^\| id \| severity \| status \|/)
    const old = await ben(['query', 'SELECT 1 AS one', '--format', 'json'], env)
    expect(JSON.parse(old.stdout)).toEqual([{ one: 1 }])
    const table = await ben(['streams'], env)
    expect(table.stdout).toMatch(/^STREAM\s+SUBJECTS\s+MESSAGES/m)
    expect(table.stdout).not.toMatch(/[│─┌┼├]/)
    const long = await ben(['query', "SELECT repeat('x', 300) AS s"], env)
    expect(long.stdout).toContain('x'.repeat(300))
    const forced = await ben(['streams'], { ...env, FORCE_COLOR: '1' })
    expect(forced.stdout).toMatch(/\x1b\[1m/)
    for (const off of [{ NO_COLOR: '1' }, {}]) {
      const args = 'NO_COLOR' in off ? ['streams'] : ['streams', '--no-color']
      const r = await ben(args, { ...env, FORCE_COLOR: '1', ...off })
      expect(r.code).toBe(0)
      expect(r.stdout, JSON.stringify(args)).not.toMatch(/\x1b/)
    }
    for (const cmd of ['query', 'streams', 'incidents', 'tail', 'keys', 'replay', 'status', 'publish']) {
      const sub = cmd === 'keys' ? ['keys', 'list'] : cmd === 'incidents' ? ['incidents', 'list'] : [cmd]
      const h = await ben([...sub, '--help'], env)
      expect(h.stdout, cmd).toMatch(/-o, --output <format>/)
    }
    const help = await ben(['--help'], env)
    expect(help.stdout).toMatch(/Exit codes: 0 done, 1 failed/)
  }, 300_000)

  it('item 14: ben simulate shows its progress: facts/s, time left, scenarios due', async () => {
    const r = await ben(['simulate', '--hosts', '1', '--rate', '20', '--duration', '4', '--scenario', 'drift', '--seed', 'newcomer'], env, undefined, 90_000)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^simulate: \d+ facts published, \d+ facts\/s, \d+ s left; (due: drift on web-1 in \d+ s|no scenario left to start)$/m)
    expect(r.stdout).toMatch(/^published \d+ facts/m)
  })

  async function startSidecar(): Promise<string> {
    mkdirSync(join(home.path, 'sidecar'), { recursive: true })
    const child = spawn(process.execPath, [BEN, 'sidecar', '--id', 'web-7', '--exec', 'quarantine_artifact=/bin/true'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    sidecar = child
    let out = ''
    child.stdout!.on('data', (b) => (out += b))
    child.stderr!.on('data', (b) => (out += b))
    return waitFor('the sidecar to listen', () => {
      if (child.exitCode !== null) throw new Error(`sidecar exited: ${out}`)
      return /listening/.test(out) ? out : undefined
    })
  }
})
