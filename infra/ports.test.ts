import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePorts, isPortFree } from './ports.js'

describe('freePorts', () => {
  it('gives n distinct ports, each free again once it returns', async () => {
    for (let round = 0; round < 20; round++) {
      const ports = await freePorts(8)
      expect(new Set(ports).size).toBe(8)
      for (const p of ports) expect(p).toBeGreaterThan(0)
    }
    const [p] = await freePorts(1)
    expect(await isPortFree(p)).toBe(true)
    // and usable: a server can listen on it
    const s = createServer()
    await new Promise<void>((r) => s.listen(p, '127.0.0.1', () => r()))
    await new Promise<void>((r) => s.close(() => r()))
  })
})
