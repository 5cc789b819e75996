import { isIP } from 'node:net'
import { ConsoleError, ConsoleErrorCode } from './errors.js'

export interface ListenAddress {
  readonly host: string
  readonly port: number
  readonly loopback: boolean
}

/** `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080` or a bare port (loopback). Port 0: any free port. */
export function parseListen(text: string): ListenAddress {
  const t = text.trim()
  let host: string
  let portText: string
  if (/^\d+$/.test(t)) {
    host = '127.0.0.1'
    portText = t
  } else {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:[\]]+):(\d+)$/.exec(t)
    if (!m) throw new ConsoleError(ConsoleErrorCode.BadConfig, `--console '${text}' is not host:port (e.g. 127.0.0.1:8080)`)
    host = m[1]
    portText = m[2]
  }
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConsoleError(ConsoleErrorCode.BadConfig, `--console port must be 0-65535, not '${portText}'`)
  if (host !== 'localhost' && !isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host))
    throw new ConsoleError(ConsoleErrorCode.BadConfig, `--console host '${host}' is not an IP address or host name`)
  return { host, port, loopback: isLoopback(host) }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** How a URL writes the host (IPv6 in brackets). */
export const urlHost = (host: string) => (isIP(host) === 6 ? `[${host}]` : host)
