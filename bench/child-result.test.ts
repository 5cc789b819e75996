import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { childResult } from './child-result.js'

/** A node child running `code`, its stdout piped. */
const run = (code: string) => spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })

describe('childResult', () => {
  it('waits for the last line written after the child itself has exited (its stdout still open)', async () => {
    // The child exits at once; a grandchild holding the same stdout prints the result when the
    // child is gone (its stdin, a pipe from the child, ends then). At 'exit' nothing has been read
    // yet: only 'close' (every writer gone) sees the result.
    const grandchild = `process.stdin.on('end', () => console.log(JSON.stringify({ sent: 42 }))).resume()`
    const child = run(
      `require('node:child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['pipe', 'inherit', 'inherit'], detached: true }).unref(); process.exit(0)`,
    )
    await expect(childResult<{ sent: number }>(child, 'writer')).resolves.toEqual({ sent: 42 })
  })

  it('rejects, naming the child and its last line, when the last line is not JSON', async () => {
    await expect(childResult(run(`console.log('warming up')`), 'the feed')).rejects.toThrow(/the feed ended without a result line.*warming up/)
  })

  it('rejects with the exit code and what the child wrote to stderr', async () => {
    const child = run(`console.error('no server at nats://127.0.0.1:1'); process.exit(3)`)
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    await expect(childResult(child, 'the feed', () => stderr)).rejects.toThrow(/the feed exited 3: no server at nats:\/\/127\.0\.0\.1:1/)
  })

  it('rejects when the program cannot be started', async () => {
    const child = spawn('/nonexistent/ben-bench-child', [], { stdio: ['ignore', 'pipe', 'pipe'] })
    await expect(childResult(child, 'natscost')).rejects.toThrow(/natscost did not run: .*ENOENT/)
  })
})
