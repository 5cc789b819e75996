import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { Command } from 'commander'
import { BEN_JS } from '../bench/faults/harness.js'
import { buildProgram, commandOf, COMMANDS } from './main.js'

/** `ben` loads only the module of the command that runs (cli/main.ts): the table must name every command. */
describe('lazy command loading', () => {
  it('the table names exactly the commands each module registers, in the help order', async () => {
    const registered: string[] = []
    for (const c of COMMANDS) {
      const p = new Command()
      ;(await c.load())(p)
      const names = p.commands.map((x) => x.name())
      expect(names, `module of ${c.names.join(', ')}`).toEqual(c.names)
      registered.push(...names)
    }
    const all = await buildProgram()
    expect(all.commands.map((x) => x.name())).toEqual(registered)
  })

  it('finds the command past the global options, and loads everything when help or an unknown name needs it', () => {
    expect(commandOf(['status'])).toBe('status')
    expect(commandOf(['--home', '/tmp/x', '--no-color', 'publish', 'f.ndjson'])).toBe('publish')
    expect(commandOf(['--server', 'nats://h:4222', 'keys', 'list'])).toBe('keys')
    expect(commandOf(['--home=/tmp/x', 'detectors', 'show'])).toBe('detectors')
    expect(commandOf(['--version'])).toBeNull()
    expect(commandOf(['-V'])).toBeNull()
    for (const args of [[], ['--help'], ['help', 'status'], ['statu'], ['--home', '/tmp/x']]) expect(commandOf(args), args.join(' ')).toBeUndefined()
  })

  it('one command is loaded alone; its help, the full help and the unknown-command message are unchanged', async () => {
    const one = await buildProgram(['status'])
    expect(one.commands.map((c) => c.name())).toEqual(['status'])
    expect((await buildProgram(['--version'])).commands).toEqual([])
    const run = (args: string[]) => spawnSync(process.execPath, [BEN_JS, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } })
    const help = run(['--help'])
    expect(help.status).toBe(0)
    for (const c of COMMANDS) for (const n of c.names) expect(help.stdout).toMatch(new RegExp(`^  ${n}\\b`, 'm'))
    const typo = run(['statu'])
    expect(typo.status).toBe(2)
    expect(typo.stderr).toMatch(/unknown command 'statu'[\s\S]*Did you mean status\?/)
    const sub = run(['status', '--help'])
    expect(sub.status).toBe(0)
    expect(sub.stdout).toMatch(/^Usage: ben status/)
  })
})
