import { createServer, type Server } from 'node:net'

/** True when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, host, () => s.close(() => resolve(true)))
  })
}

/** A port the OS says is free on 127.0.0.1. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]
}

/**
 * `n` distinct ports the OS says are free on `host`: all `n` are held open while they are picked,
 * so the OS cannot hand out one of them twice (separate `freePort` calls can return the same port,
 * since a port found free is not held). Like `freePort`, nothing keeps them free afterwards.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const held: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < n; i++) {
      const s = createServer()
      held.push(s)
      ports.push(
        await new Promise<number>((resolve, reject) => {
          s.once('error', reject)
          s.listen(0, host, () => {
            const addr = s.address()
            resolve(typeof addr === 'object' && addr ? addr.port : 0)
          })
        }),
      )
    }
    return ports
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))))
  }
}
