import { isIP } from 'node:net'
import { SidecarError, SidecarErrorCode } from './errors.js'
import { formatListen, type ListenAddress } from '../intake/listen.js'

export { formatListen, type ListenAddress }

/**
 * Parses `--listen`: a path (contains `/`, or ends in `.sock`) is a Unix socket; otherwise
 * `host:port` (`[::1]:port` for IPv6), where the host must be loopback (127.0.0.0/8, ::1 or
 * `localhost`). Anything else is refused: the intake is unauthenticated, so it must not be
 * reachable from the network.
 */
export function parseListen(spec: string): ListenAddress {
  const s = spec.trim()
  if (s.startsWith('unix:')) return { kind: 'unix', path: s.slice(5) }
  if (s.includes('/') || s.endsWith('.sock')) return { kind: 'unix', path: s }
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s)
  if (!m) throw new SidecarError(SidecarErrorCode.Listen, `--listen '${spec}': expected a Unix socket path or host:port (e.g. 127.0.0.1:4590)`)
  const host = (m[1] ?? m[2] ?? '').toLowerCase()
  const port = Number(m[3])
  if (port > 65535) throw new SidecarError(SidecarErrorCode.Listen, `--listen '${spec}': port ${port} is out of range`)
  if (!isLoopback(host)) {
    throw new SidecarError(
      SidecarErrorCode.Listen,
      `--listen '${spec}': ${host || '(all interfaces)'} is not a loopback address; the sidecar's intake has no authentication, so it listens on 127.0.0.1, ::1, localhost or a Unix socket only`,
    )
  }
  return { kind: 'tcp', host: host === 'localhost' ? '127.0.0.1' : host, port }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}
