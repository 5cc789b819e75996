import { describe, expect, it } from 'vitest'
import { inspectProcess, isSameProcess, runsNatsServer, selfIdentity, signalIfSame } from './process-identity.js'

describe('process identity', () => {
  it('names this process by pid and start time, and refuses a recorded pid whose start time differs', () => {
    const me = selfIdentity()
    expect(me.pid).toBe(process.pid)
    expect(me.startTime).toMatch(/^\d+$/)
    expect(isSameProcess(me)).toBe(true)
    expect(isSameProcess({ pid: me.pid, startTime: String(Number(me.startTime) + 1) })).toBe(false)
    expect(isSameProcess({ pid: me.pid })).toBe(false)
    expect(isSameProcess(undefined)).toBe(false)
  })

  it('never signals a process that is not proven: wrong start time or wrong command line', () => {
    const me = selfIdentity()
    // Signal 0 would be harmless, but a wrong identity must not even get that far.
    expect(signalIfSame({ pid: me.pid, startTime: '1' }, 'SIGTERM')).toBe(false)
    expect(signalIfSame(me, 'SIGTERM', runsNatsServer('/nowhere'))).toBe(false)
  })

  it('tells a nats-server on this store from one on another store or another program', () => {
    const m = runsNatsServer('/var/lib/ben/nats')
    expect(m(['/usr/sbin/nats-server', '-c', '/var/lib/ben/nats/ben-nats.conf', '-p', '4222'])).toBe(true)
    expect(m(['nats-server', '-js', '-sd', '/var/lib/ben/nats'])).toBe(true)
    expect(m(['/usr/sbin/nats-server', '-c', '/var/lib/ben/nats2/ben-nats.conf'])).toBe(false)
    expect(m(['/bin/sleep', '/var/lib/ben/nats/x'])).toBe(false)
    expect(m([])).toBe(false)
  })

  it('reads nothing for a pid that does not exist', () => {
    expect(inspectProcess(2 ** 22 + 12345)).toBeUndefined()
    expect(inspectProcess(-1)).toBeUndefined()
  })
})
