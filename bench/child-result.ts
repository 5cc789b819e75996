import type { ChildProcess } from 'node:child_process'

/**
 * The result a bench's child process prints as the last line of its stdout (one JSON line),
 * once the process has ended and its stdout is closed.
 *
 * It waits for 'close', not 'exit': at 'exit' the last bytes of a child's stdout may still be
 * unread, and a flood run whose feed had printed its result failed on "Unexpected end of JSON
 * input", thrown from the event handler: the bench died without stopping its nats-server and its
 * command targets, which ran on under the next runs. Every failure is a rejection here, so the
 * bench's own clean-up runs.
 *
 * `stderr`: what the child wrote there, when the caller collects it (added to the error).
 */
export function childResult<T>(child: ChildProcess, name: string, stderr?: () => string): Promise<T> {
  let out = ''
  child.stdout?.on('data', (b: Buffer | string) => (out += b.toString()))
  return new Promise<T>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${name} did not run: ${err.message}`)))
    child.once('close', (code, signal) => {
      const said = stderr?.().trim()
      if (code !== 0) {
        reject(new Error(`${name} exited ${code ?? `on ${signal}`}${said ? `: ${said}` : ''}`))
        return
      }
      const last = out.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(last) as T)
      } catch {
        reject(new Error(`${name} ended without a result line (its last line: ${JSON.stringify(last.slice(-200))})${said ? `; stderr: ${said}` : ''}`))
      }
    })
  })
}
