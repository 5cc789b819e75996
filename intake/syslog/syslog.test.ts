import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseSyslog, syslogToEdge } from './parse.js'
import { SyslogFramer, type Framed } from './framing.js'

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0)

describe('parseSyslog', () => {
  it('reads the RFC 5424 examples (section 6.5)', () => {
    const a = parseSyslog("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8", NOW)
    expect(a).toEqual({
      ok: true,
      value: {
        format: 'rfc5424',
        facility: 4,
        severity: 2,
        ts: Date.UTC(2003, 9, 11, 22, 14, 15, 3),
        hostname: 'mymachine.example.com',
        app: 'su',
        procid: undefined,
        msgid: 'ID47',
        structured: {},
        message: "'su root' failed for lonvick on /dev/pts/8",
      },
    })
    const b = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event',
      NOW,
    )
    expect(b.ok && b.value.structured).toEqual({
      'sd.exampleSDID@32473.iut': '3',
      'sd.exampleSDID@32473.eventSource': 'Application',
      'sd.exampleSDID@32473.eventID': '1011',
      'sd.examplePriority@32473.class': 'high',
    })
    expect(b.ok && b.value.message).toBe('An application event')
    const c = parseSyslog("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.", NOW)
    expect(c.ok && c.value.ts).toBe(Date.UTC(2003, 7, 24, 12, 14, 15, 0))
    expect(c.ok && c.value.procid).toBe('8710')
    const d = parseSyslog('<13>1 - - - - - [a b="x\\"y\\]z"]', NOW)
    expect(d.ok && d.value.structured).toEqual({ 'sd.a.b': 'x"y]z' })
  })

  it('reads RFC 3164 messages, with and without a host, and the bare <PRI>text form', () => {
    const a = parseSyslog("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", NOW)
    expect(a.ok && { ...a.value, ts: undefined }).toEqual({
      format: 'rfc3164',
      facility: 4,
      severity: 2,
      ts: undefined,
      hostname: 'mymachine',
      app: 'su',
      procid: undefined,
      msgid: undefined,
      structured: {},
      message: "'su root' failed for lonvick on /dev/pts/8",
    })
    expect(a.ok && new Date(a.value.ts!).getMonth()).toBe(9)
    const b = parseSyslog('<13>Dec  3 11:59:00 sshd[4711]: Accepted publickey for alice', NOW)
    expect(b.ok && [b.value.hostname, b.value.app, b.value.procid, b.value.message]).toEqual([undefined, 'sshd', '4711', 'Accepted publickey for alice'])
    const c = parseSyslog('<13>just text', NOW)
    expect(c.ok && [c.value.ts, c.value.message]).toEqual([undefined, 'just text'])
  })

  it('refuses what is not syslog, with the reason', () => {
    for (const [text, why] of [
      ['hello', /PRI/],
      ['<999>1 - - - - - -', /0-191/],
      ['<13>1 2003-10-11T22:14:15Z host', /cut off/],
      ['<13>1 yesterday h a p m - x', /RFC 3339/],
      ['<13>1 - h a p m [x y="z"', /not closed/],
      ['<13>1 - h a p m [x y="z" w', /name="value"/],
    ] as const) {
      const r = parseSyslog(text, NOW)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.message).toMatch(why)
    }
  })

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        parseSyslog(s, NOW)
        parseSyslog(`<13>1 ${s}`, NOW)
        parseSyslog(`<13>${s}`, NOW)
      }),
    )
  })

  it('maps to an event fact: type by facility, source from the host (or the sidecar id)', () => {
    const p = parseSyslog('<38>1 2026-12-03T10:00:00Z web.7 sshd 99 LOGIN - failed password for bob', NOW)
    if (!p.ok) throw new Error(p.message)
    expect(syslogToEdge(p.value, NOW, undefined, 'syslog')).toEqual({
      lane: 'event',
      source: 'web-7',
      ts: Date.UTC(2026, 11, 3, 10),
      type: 'syslog.auth',
      message: 'failed password for bob',
      attrs: { severity: 'info', facility: 'auth', format: 'rfc5424', app: 'sshd', procid: '99', msgid: 'LOGIN', hostname: 'web.7' },
    })
    expect(syslogToEdge(p.value, NOW, 'sc-1', 'syslog').source).toBe('sc-1')
  })
})

describe('SyslogFramer (RFC 6587)', () => {
  const run = (chunks: string[], max = 100): Framed[] => {
    const f = new SyslogFramer(max)
    const out: Framed[] = []
    for (const c of chunks) f.push(Buffer.from(c), out)
    f.end(out)
    return out
  }
  const frames = (o: Framed[]) => o.filter((x) => x.kind === 'frame').map((x) => (x as { text: string }).text)
  const faults = (o: Framed[]) => o.filter((x) => x.kind === 'fault').map((x) => (x as { reason: string }).reason)

  it('splits octet-counted and newline frames, across any chunk boundaries', () => {
    const stream = '5 <1>ab3 <2>\n<3>line one\n<4>line two\r\n10 <5>x\ny z w\u0000<6>nul'
    const want = ['<1>ab', '<2>', '<3>line one', '<4>line two\r', '<5>x\ny z w', '<6>nul']
    for (let cut = 1; cut < stream.length; cut++) expect(frames(run([stream.slice(0, cut), stream.slice(cut)]))).toEqual(want)
    expect(frames(run(stream.split('')))).toEqual(want)
  })

  it('skips an oversized or garbled frame and keeps the ones after it', () => {
    const big = 'x'.repeat(150)
    const o = run([`150 ${big}<1>after count\n`, `<2>${big}\n<3>after line\n`, '12x <4>bad prefix\n<5>after bad\n'])
    expect(frames(o)).toEqual(['<1>after count', '<3>after line', '<5>after bad'])
    expect(faults(o)).toEqual(['too_large', 'too_large', 'bad_frame'])
  })

  it('reports a frame cut off by the end of the connection', () => {
    const o = run(['20 <1>only ten'])
    expect(frames(o)).toEqual([])
    expect(faults(o)).toEqual(['bad_frame'])
  })
})
