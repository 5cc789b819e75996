import { afterAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { packageRoot } from '../schemas/index.js'
import { BEN, benIn, inParallel, type Run } from './support/cli.js'
import { tempDir } from './support/servers.js'

/**
 * Issue 11, "The CLI as a newcomer meets it", the items met before any `ben up` runs: spawned
 * `ben` processes with no Ben to talk to. The items met against a running `ben up` are in
 * cli-newcomer.test.ts; the two files run side by side.
 */

const STACK = /\n\s+at .+[:(]\d+|node:internal|\bat async\b/
const DOCUMENTED_EXITS = [0, 1, 2, 3, 4, 5]

describe('ben without a running Ben: errors, exit codes, engines', () => {
  const home = tempDir('ben-newcomer-none-')
  const cfg = tempDir('ben-newcomer-cfg0-')
  const env = { BEN_HOME: home.path, BEN_NO_CONTAINERS: '1', XDG_CONFIG_HOME: cfg.path }
  afterAll(() => {
    home.remove()
    cfg.remove()
  })

  it('item 5 and 7: bad flags and env values give one `ben:` line, a documented exit code, never a stack trace', async () => {
    const cases: Array<{ args: string[]; env?: Record<string, string>; code: number; says: RegExp }> = [
      { args: ['up'], env: { BEN_NATS_SERVER_BIN: '/nonexistent/nats-server' }, code: 5, says: /BEN_NATS_SERVER_BIN=\/nonexistent\/nats-server is not an executable/ },
      { args: ['up'], env: { BEN_NATS_SERVER_BIN: '/etc/passwd' }, code: 5, says: /not an executable/ },
      { args: ['up', '--sim-hosts', 'many', '--simulate'], code: 2, says: /--sim-hosts must be a number/ },
      { args: ['query', 'SELECT 1', '-o', 'xml'], code: 2, says: /argument 'xml' is invalid/ },
      { args: ['query'], code: 2, says: /missing required argument 'sql'/ },
      { args: ['query', 'SELECT 1', '--limit', 'lots'], code: 2, says: /--limit must be a positive whole number/ },
      { args: ['query', 'SELECT 1'], code: 5, says: /ben up is not running/ },
      { args: ['query', 'SELECT 1'], env: { BEN_NATS_URL: 'nats://127.0.0.1:1' }, code: 5, says: /cannot reach NATS/ },
      { args: ['tail', 'ben.fact.>', '--last', '-3'], code: 2, says: /--last must be a positive whole number/ },
      { args: ['tail', 'ben.fact.>', '--all', '--new'], code: 2, says: /give one/ },
      { args: ['tail', 'ben.fact.>', '--since', 'yesterday-ish'], code: 2, says: /--since must be/ },
      { args: ['publish', '/nonexistent/facts.ndjson'], code: 2, says: /cannot read \/nonexistent\/facts.ndjson/ },
      { args: ['incidents', 'list', '--severity', 'apocalyptic'], code: 2, says: /--severity must be one of/ },
      { args: ['replay'], code: 2, says: /name an incident id/ },
      { args: ['keys', 'generate', '--role', 'admin'], code: 2, says: /--role must be one of/ },
      { args: ['approve', 'zz-not-hex'], code: 2, says: /not a command id/ },
      { args: ['manifest', 'apply', '/nonexistent.yaml'], code: 2, says: /cannot read/ },
      { args: ['detect', '--input', '/nonexistent.csv', '--scores', join(home.path, 'x.csv')], code: 2, says: /nonexistent\.csv/ },
      { args: ['no-such-command'], code: 2, says: /unknown command 'no-such-command'/ },
      { args: ['streams', '--bogus'], code: 2, says: /unknown option '--bogus'/ },
      { args: ['status'], code: 5, says: /does not answer|no running Ben/ },
    ]
    // 21 runs of `ben`, each about 1 s of CPU to start: a few side by side, not one after another.
    const runs = await inParallel(cases, 4, (c) => benIn(home.path, c.args, { ...env, ...c.env }))
    for (const [i, c] of cases.entries()) {
      const r = runs[i]
      const what = `ben ${c.args.join(' ')} ${JSON.stringify(c.env ?? {})}: ${r.stderr}`
      expect(r.code, what).toBe(c.code)
      expect(DOCUMENTED_EXITS, what).toContain(r.code)
      expect(r.stderr, what).toMatch(c.says)
      expect(r.stderr, what).not.toMatch(STACK)
      expect(r.stderr, what).toMatch(/^ben: /)
      expect(r.stderr, what).not.toMatch(/^error: /m)
    }
  }, 300_000)

  it('item 5: --debug shows the stack trace of the same failure', async () => {
    const r = await benIn(home.path, ['query', 'SELECT 1', '--debug'], { ...env, BEN_NATS_URL: 'nats://127.0.0.1:1' })
    expect(r.code).toBe(5)
    expect(r.stderr).toMatch(/^ben: cannot reach NATS/)
    expect(r.stderr).toMatch(/\n\s+at /)
  })

  it('item 14: a bare `ben publish` with a terminal on stdin says it is reading stdin', async () => {
    // `script` gives the command a pseudo-terminal for stdin and stdout.
    const r = await new Promise<Run>((resolve) => {
      const child = spawn('script', ['-qefc', `${process.execPath} ${BEN} publish`, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let ended = false
      // `script` may have ended and closed its input by the time a write lands (EPIPE): the
      // command's output is what is checked, not that write.
      child.stdin.on('error', () => undefined)
      child.stdout.on('data', (b) => {
        stdout += b
        // Once it said so, end its input (Ctrl-D on the terminal), once: more output may follow.
        if (!ended && /reading NDJSON facts from standard input/.test(stdout)) {
          ended = true
          child.stdin.write('\x04')
        }
      })
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }))
    })
    expect(r.stdout).toMatch(/reading NDJSON facts from standard input \(one per line; Ctrl-D to finish/)
    // Piped input says nothing of the kind.
    const piped = await benIn(home.path, ['publish'], env, '')
    expect(piped.stderr).not.toMatch(/reading NDJSON/)
  })

  it('item 12: every package in the lockfile supports the Node the README and engines name', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { engines: { node: string } }
    const lock = JSON.parse(readFileSync(join(packageRoot(), 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }>
    }
    const lowest = semver.minVersion(pkg.engines.node)!
    expect(lowest.version).toBe('20.19.0')
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8')
    expect(readme).toContain('Node.js ≥ 20.19')
    const refusing: string[] = []
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined
      if (!path || !range || p.dev || p.optional) continue
      if (!semver.satisfies(lowest, range.replace(/\.x\b/g, ''))) refusing.push(`${path} wants node ${range}`)
    }
    expect(refusing).toEqual([])
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true)
  })
})
