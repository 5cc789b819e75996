import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, type Socket } from 'node:net'
import { countOutcome, countRefusal, lanesOf } from '../count.js'
import { DropReason, IntakeError, IntakeErrorCode } from '../errors.js'
import { formatHostPort, listenOn, type HostPort } from '../listen.js'
import type { IntakeSink } from '../sink.js'
import type { Door } from '../otlp/server.js'
import { SyslogFramer, type Framed } from './framing.js'
import { parseSyslog, syslogToEdge } from './parse.js'

export interface SyslogOptions {
  /** Longest message (bytes). Default 64 KiB. */
  readonly maxMessageBytes?: number
  /** Open TCP connections at most; more are closed and counted. Default 256. */
  readonly maxConnections?: number
  /** UDP messages waiting for the sink at most; more are dropped and counted (UDP cannot push back). Default 65536. */
  readonly maxQueued?: number
  /** Source when a message names no host (`ben up`). Default `syslog`. */
  readonly defaultSource?: string
  /** Which transports. Default both. */
  readonly udp?: boolean
  readonly tcp?: boolean
  readonly now?: () => number
  readonly log?: { warn(obj: object, msg?: string): void }
}

const DOOR = 'syslog'

/**
 * Syslog intake on one host:port over UDP (one message per datagram) and TCP (RFC 6587
 * octet counting or newline framing, per message). RFC 5424 and RFC 3164 messages become
 * `event` facts (parse.ts). A TCP connection is paused while its messages are made durable, so
 * a fast sender is slowed, never dropped; UDP cannot be slowed, so past `maxQueued` waiting
 * messages the newest are dropped and counted. Unparsable messages, bad or cut-off frames and
 * refused connections are counted in `ben_intake_dropped_total{door="syslog"}` with the reason;
 * the door keeps serving.
 */
export async function serveSyslog(sink: IntakeSink, at: HostPort, opts: SyslogOptions = {}): Promise<Door> {
  const maxFrame = opts.maxMessageBytes ?? 64 * 1024
  const maxQueued = opts.maxQueued ?? 65536
  const defaultSource = opts.defaultSource ?? 'syslog'
  const now = opts.now ?? Date.now

  /** Frames → edge objects; faults and unparsable messages counted. */
  const toFacts = (frames: readonly Framed[]): unknown[] => {
    const facts: unknown[] = []
    const t = now()
    for (const f of frames) {
      if (f.kind === 'fault') {
        countRefusal(DOOR, f.reason === 'too_large' ? DropReason.TooLarge : DropReason.BadFrame)
        continue
      }
      const p = parseSyslog(f.text, t)
      if (!p.ok) {
        countRefusal(DOOR, DropReason.Unparsable)
        continue
      }
      facts.push(syslogToEdge(p.value, t, sink.source, defaultSource))
    }
    return facts
  }
  const deliver = async (received: number, facts: unknown[]) => {
    if (received === 0) return
    const r = facts.length ? await sink.accept(facts) : undefined
    countOutcome(DOOR, received, lanesOf(facts), r)
    if (r && r.rejected.length) opts.log?.warn({ door: DOOR, rejected: r.rejected.length, first: r.rejected[0] }, 'syslog messages refused')
  }

  const closers: Array<() => Promise<void>> = []
  let port = at.port

  if (opts.tcp !== false) {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      const framer = new SyslogFramer(maxFrame)
      let chain = Promise.resolve()
      const handle = (frames: Framed[]) => {
        if (frames.length === 0) return
        const received = frames.length
        const facts = toFacts(frames)
        socket.pause()
        chain = chain
          .then(() => deliver(received, facts))
          .catch((err: Error) => opts.log?.warn({ door: DOOR, err: err.message }, 'syslog delivery failed'))
          .finally(() => {
            if (!socket.destroyed) socket.resume()
          })
      }
      socket.on('data', (chunk: Buffer) => {
        const frames: Framed[] = []
        framer.push(chunk, frames)
        handle(frames)
      })
      socket.on('end', () => {
        const frames: Framed[] = []
        framer.end(frames)
        handle(frames)
        void chain.finally(() => socket.end())
      })
      socket.on('error', () => undefined)
      socket.on('close', () => sockets.delete(socket))
      socket.setTimeout(300_000, () => socket.destroy())
    })
    server.maxConnections = opts.maxConnections ?? 256
    server.on('drop', () => countRefusal(DOOR, DropReason.TooManyConnections))
    port = await listenOn(server, { host: at.host, port }, 'syslog TCP')
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          for (const s of sockets) s.destroy()
        }),
    )
  }

  if (opts.udp !== false) {
    const udp: UdpSocket = createSocket({ type: at.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false })
    let queue: Buffer[] = []
    let busy = false
    const pump = async () => {
      if (busy) return
      busy = true
      try {
        while (queue.length) {
          const batch = queue.length > 2048 ? queue.splice(0, 2048) : queue
          if (batch === queue) queue = []
          const frames: Framed[] = batch.map((b) =>
            b.length > maxFrame ? { kind: 'fault', reason: 'too_large', message: `datagram of ${b.length} bytes` } : { kind: 'frame', text: b.toString('utf8') },
          )
          await deliver(frames.length, toFacts(frames)).catch((err: Error) => opts.log?.warn({ door: DOOR, err: err.message }, 'syslog delivery failed'))
        }
      } finally {
        busy = false
      }
    }
    udp.on('message', (msg) => {
      if (queue.length >= maxQueued) {
        countOutcome(DOOR, 1, [], undefined, [{ reason: DropReason.Overloaded }])
        return
      }
      queue.push(msg)
      if (!busy) setImmediate(() => void pump())
    })
    udp.on('error', (err) => opts.log?.warn({ door: DOOR, err: err.message }, 'syslog UDP socket error'))
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(port, at.host, () => {
        udp.off('error', reject)
        port = udp.address().port
        resolve()
      })
    }).catch((err: Error) => {
      void Promise.all(closers.map((c) => c()))
      throw new IntakeError(IntakeErrorCode.Listen, `syslog UDP: cannot listen on ${formatHostPort(at.host, port)}: ${err.message}`, { cause: err })
    })
    closers.push(() => new Promise<void>((resolve) => udp.close(() => resolve())))
  }

  let closing: Promise<void> | undefined
  return {
    name: DOOR,
    address: formatHostPort(at.host, port),
    port,
    close: () => (closing ??= Promise.all(closers.map((c) => c())).then(() => undefined)),
  }
}
