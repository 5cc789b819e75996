import { spawn } from 'node:child_process'
import { SidecarError, SidecarErrorCode } from './errors.js'
import type { CommandHandler } from './types.js'

/**
 * A handler that runs a program for a verb (the daemon's `--exec <verb>=<command>`): the
 * command line runs under `/bin/sh -c`, gets the verified arguments as JSON on stdin and in
 * BEN_ARGS, with BEN_VERB, BEN_TARGET and BEN_COMMAND_ID set. Exit 0 = executed; anything
 * else = failed, with the exit status and the end of stderr in the ack. Killed after `timeoutMs`.
 */
export function execHandler(commandLine: string, timeoutMs = 55_000): CommandHandler {
  return (args, cmd) =>
    new Promise<void>((resolve, reject) => {
      const json = JSON.stringify(args)
      const child = spawn('/bin/sh', ['-c', commandLine], {
        stdio: ['pipe', 'ignore', 'pipe'],
        env: { ...process.env, BEN_VERB: cmd.payload.verb, BEN_TARGET: cmd.payload.target, BEN_COMMAND_ID: cmd.payload.commandId, BEN_ARGS: json },
      })
      let stderr = ''
      child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-1000)))
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(new Error(`cannot run '${commandLine}': ${err.message}`))
      })
      child.once('close', (code, signal) => {
        clearTimeout(timer)
        if (code === 0) resolve()
        else
          reject(
            new Error(
              `'${commandLine}' ${signal ? `was killed by ${signal}` : `exited with ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
            ),
          )
      })
      child.stdin!.on('error', () => undefined)
      child.stdin!.end(json + '\n')
    })
}

/** Parses `--exec` values (`verb=command line`) into handlers. */
export function execHandlers(specs: readonly string[], timeoutMs?: number): Record<string, CommandHandler> {
  const out: Record<string, CommandHandler> = {}
  for (const s of specs) {
    const at = s.indexOf('=')
    const verb = at > 0 ? s.slice(0, at).trim() : ''
    const command = at > 0 ? s.slice(at + 1).trim() : ''
    if (!verb || !command) throw new SidecarError(SidecarErrorCode.Config, `--exec '${s}': expected <verb>=<command>, e.g. set_mode=/usr/local/bin/set-mode`)
    if (out[verb]) throw new SidecarError(SidecarErrorCode.Config, `--exec: verb ${verb} is given twice`)
    out[verb] = execHandler(command, timeoutMs)
  }
  return out
}
