/**
 * The syslog door with a real sender: util-linux `logger` over UDP and TCP (newline and
 * octet-counting framing), RFC 5424 and RFC 3164, into FACTS on a real nats-server; and bad
 * input (garbage, cut-off frames, oversized frames, a flood of connections) counted while valid
 * messages around it are all stored.
 */
import { execFile } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FactPublisher, metricsRegistry } from '../streams/index.js'
import { publisherSink, serveSyslog, toToken, type Door } from '../intake/index.js'
import { startTestNats, waitFor, type TestNats } from './support/servers.js'
import { readStream } from './support/sidecar.js'

const run = promisify(execFile)
let t: TestNats
let publisher: FactPublisher
let door: Door
const host = toToken(hostname())

beforeAll(async () => {
  t = await startTestNats()
  publisher = new FactPublisher(t.nc, t.subjects)
  door = await serveSyslog(publisherSink(publisher), { host: '127.0.0.1', port: 0 }, { maxConnections: 8, maxMessageBytes: 4096 })
})
afterAll(async () => {
  await door?.close()
  await publisher?.close()
  await t?.stop()
})

const logger = (args: string[], message: string) => run('logger', ['--server', '127.0.0.1', '--port', String(door.port), ...args, message])
const events = async () => (await readStream(t.nc, 'FACTS', `ben.fact.event.>`)).map((m) => m.fact)
const byApp = async (app: string) => (await events()).filter((f) => (f.payload as { attrs: Record<string, string> }).attrs.app === app)
const counter = async (reason: string) => {
  const m = /(\d+)$/.exec((await metricsRegistry.metrics()).split('\n').find((l) => l.startsWith(`ben_intake_dropped_total{door="syslog",reason="${reason}"}`)) ?? '')
  return m ? Number(m[1]) : 0
}

describe('syslog door with util-linux logger', () => {
  it('takes RFC 5424 and RFC 3164 over UDP and TCP (newline and octet counting)', async () => {
    const cases = [
      { app: 'udp5424', args: ['--udp', '--rfc5424', '--sd-id', 'origin@32473', '--sd-param', 'env="prod"', '--msgid', 'M1', '-p', 'auth.warning'] },
      { app: 'udp3164', args: ['--udp', '--rfc3164', '-p', 'daemon.err'] },
      { app: 'tcp5424', args: ['--tcp', '--rfc5424', '-p', 'local3.info'] },
      { app: 'tcp3164', args: ['--tcp', '--rfc3164', '-p', 'user.notice'] },
      { app: 'tcpcount', args: ['--tcp', '--octet-count', '--rfc5424', '-p', 'cron.debug'] },
    ]
    for (const c of cases) for (let i = 0; i < 5; i++) await logger([...c.args, '-t', c.app], `${c.app} message ${i} for alice@example.org`)
    for (const c of cases) {
      const facts = await waitFor(
        `5 facts from ${c.app}`,
        async () => {
          const f = await byApp(c.app)
          return f.length >= 5 ? f : undefined
        },
        120_000,
      )
      expect(facts.length).toBe(5)
      expect(facts.every((f) => f.source === host)).toBe(true)
      expect(facts.map((f) => (f.payload as { message: string }).message).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `${c.app} message ${i} for alice@example.org`))
      // event time from the message itself, within a day of now
      expect(Math.abs(facts[0].ts - Date.now())).toBeLessThan(86_400_000)
    }
    const u = (await byApp('udp5424'))[0].payload as { type: string; attrs: Record<string, string> }
    expect(u.type).toBe('syslog.auth')
    expect(u.attrs).toMatchObject({ severity: 'warning', facility: 'auth', msgid: 'M1', 'sd.origin@32473.env': 'prod', format: 'rfc5424' })
    const b = (await byApp('udp3164'))[0].payload as { type: string; attrs: Record<string, string> }
    expect(b).toMatchObject({ type: 'syslog.daemon', attrs: { severity: 'err', format: 'rfc3164' } })
    expect(((await byApp('tcpcount'))[0].payload as { type: string }).type).toBe('syslog.cron')
  })

  it('counts garbage, cut-off and oversized frames and a connection flood, and loses no valid message', async () => {
    const before = { bad: await counter('bad_frame'), unp: await counter('unparsable'), big: await counter('too_large'), flood: await counter('too_many_connections') }
    const send = (data: string) =>
      new Promise<void>((resolve, reject) => {
        const s = connect(door.port, '127.0.0.1', () => s.end(data))
        s.on('close', () => resolve())
        s.on('error', reject)
      })
    await send(`<13>1 - h badmix - - - valid one\nnot syslog at all\n12x oops\n${'<13>' + 'x'.repeat(5000)}\n<13>1 - h badmix - - - valid two\n40 <13>1 - h badmix - - - cut`)
    // a flood: hold more connections than the door allows, then a valid sender still gets through
    const held: Socket[] = []
    for (let i = 0; i < 20; i++) held.push(connect(door.port, '127.0.0.1'))
    await waitFor('the flood to be refused', async () => (await counter('too_many_connections')) > before.flood || undefined, 120_000)
    for (const s of held) s.destroy()
    // The door frees the flood's slots as it sees them close: send until one after-flood message
    // is stored (logger succeeds even when the door closes a connection it has no room for).
    await waitFor(
      'a sender after the flood to get through',
      async () => {
        await logger(['--tcp', '--rfc5424', '-t', 'afterflood'], 'after the flood').catch(() => undefined)
        return (await byApp('afterflood')).length > 0 || undefined
      },
      60_000,
      500,
    )
    const valid = await waitFor(
      'the valid messages',
      async () => {
        const f = [...(await byApp('badmix')), ...(await byApp('afterflood'))]
        return f.length >= 3 ? f : undefined
      },
      120_000,
    )
    expect([...new Set(valid.map((f) => (f.payload as { message: string }).message))].sort()).toEqual(['after the flood', 'valid one', 'valid two'])
    expect(await counter('unparsable')).toBeGreaterThan(before.unp)
    expect(await counter('bad_frame')).toBeGreaterThanOrEqual(before.bad + 2)
    expect(await counter('too_large')).toBeGreaterThan(before.big)
  })
})
