import type { Server } from 'node:net'
import { IntakeError, IntakeErrorCode } from './errors.js'

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** `host:port`, `:port` or `port` (host 127.0.0.1); `[::1]:port` for IPv6. */
export function parseHostPort(text: string, what: string): HostPort {
  const t = text.trim()
  if (/^\d{1,5}$/.test(t)) return check({ host: '127.0.0.1', port: Number(t) }, text, what)
  const m = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(t)
  if (!m) throw new IntakeError(IntakeErrorCode.Config, `${what}: '${text}' is not host:port (e.g. 127.0.0.1:4318)`)
  return check({ host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) }, text, what)
}

function check(hp: HostPort, text: string, what: string): HostPort {
  if (hp.port > 65535) throw new IntakeError(IntakeErrorCode.Config, `${what}: '${text}' has a port above 65535`)
  return hp
}

/** Where a local door listens: a Unix socket path, or a TCP address. */
export type ListenAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number }

export function formatListen(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : a.host.includes(':') ? `http://[${a.host}]:${a.port}` : `http://${a.host}:${a.port}`
}

export const formatHostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

/** Binds a TCP server; the IntakeError names the door and the address. */
export function listenOn(server: Server, at: HostPort, door: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (err: Error) => reject(new IntakeError(IntakeErrorCode.Listen, `${door}: cannot listen on ${formatHostPort(at.host, at.port)}: ${err.message}`, { cause: err }))
    server.once('error', onError)
    server.listen(at.port, at.host, () => {
      server.off('error', onError)
      const a = server.address()
      resolve(a && typeof a === 'object' ? a.port : at.port)
    })
  })
}
