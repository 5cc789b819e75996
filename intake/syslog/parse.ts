/**
 * Syslog messages (RFC 5424, and the BSD format RFC 3164 describes) → the JSON edge shape.
 * Pure: no I/O; `receivedAt` stands in for a missing or unreadable timestamp.
 */

export const FACILITY = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const
export const SEVERITY = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const

export interface SyslogMessage {
  readonly format: 'rfc5424' | 'rfc3164'
  readonly facility: number
  readonly severity: number
  /** Epoch ms; undefined when the message has none (or an unreadable one). */
  readonly ts: number | undefined
  readonly hostname: string | undefined
  readonly app: string | undefined
  readonly procid: string | undefined
  readonly msgid: string | undefined
  /** `sd.<id>.<param>` → value. */
  readonly structured: Record<string, string>
  readonly message: string
}

export type ParseResult = { ok: true; value: SyslogMessage } | { ok: false; message: string }

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 }
const RFC3164_TS = /^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) /
const RFC3164_TAG = /^([^\s:[\]]{1,64})(?:\[([^\]\s]{1,32})\])?: ?/
const nil = (s: string): string | undefined => (s === '-' ? undefined : s)

/** One message, framing removed. Never throws. */
export function parseSyslog(text: string, receivedAt: number): ParseResult {
  if (text.charCodeAt(0) !== 60 /* < */) return { ok: false, message: 'does not start with <PRI>' }
  const close = text.indexOf('>')
  if (close < 2 || close > 4) return { ok: false, message: 'PRI is not 1-3 digits in <>' }
  const pri = Number(text.slice(1, close))
  if (!/^\d{1,3}$/.test(text.slice(1, close)) || pri > 191) return { ok: false, message: `PRI '${text.slice(1, close)}' is not 0-191` }
  const rest = text.slice(close + 1)
  if (rest.startsWith('1 ')) return parse5424(pri, rest.slice(2))
  return { ok: true, value: parse3164(pri, rest, receivedAt) }
}

function parse5424(pri: number, s: string): ParseResult {
  // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
  const parts: string[] = []
  let at = 0
  for (let i = 0; i < 5; i++) {
    const sp = s.indexOf(' ', at)
    if (sp < 0) return { ok: false, message: `RFC 5424 header is cut off after ${i} of its 6 fields` }
    parts.push(s.slice(at, sp))
    at = sp + 1
  }
  const [tsText, hostname, app, procid, msgid] = parts
  let ts: number | undefined
  if (tsText !== '-') {
    ts = Date.parse(tsText)
    if (Number.isNaN(ts)) return { ok: false, message: `RFC 5424 TIMESTAMP '${tsText.slice(0, 40)}' is not RFC 3339` }
  }
  const structured: Record<string, string> = {}
  if (s[at] === '-') at++
  else if (s[at] === '[') {
    const r = readStructured(s, at, structured)
    if (typeof r === 'string') return { ok: false, message: r }
    at = r
  } else return { ok: false, message: 'RFC 5424 STRUCTURED-DATA is neither - nor [...]' }
  if (s[at] === ' ') at++
  let message = s.slice(at)
  if (message.charCodeAt(0) === 0xfeff) message = message.slice(1)
  return {
    ok: true,
    value: {
      format: 'rfc5424',
      facility: pri >> 3,
      severity: pri & 7,
      ts,
      hostname: nil(hostname),
      app: nil(app),
      procid: nil(procid),
      msgid: nil(msgid),
      structured,
      message: trimEnd(message),
    },
  }
}

/** `[id k="v" ...][id2 ...]` from `at`; returns the index after it, or what is wrong. */
function readStructured(s: string, at: number, into: Record<string, string>): number | string {
  while (s[at] === '[') {
    let i = at + 1
    const idEnd = s.slice(i).search(/[ \]]/)
    if (idEnd < 0) return 'RFC 5424 SD-ELEMENT is not closed'
    const id = s.slice(i, i + idEnd)
    i += idEnd
    while (s[i] === ' ') {
      i++
      const eq = s.indexOf('=', i)
      if (eq < 0 || s[eq + 1] !== '"') return `RFC 5424 SD-PARAM in [${id}] is not name="value"`
      const name = s.slice(i, eq)
      i = eq + 2
      let value = ''
      for (;;) {
        if (i >= s.length) return `RFC 5424 SD-PARAM ${id}.${name} is not closed`
        const c = s[i]
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\' || s[i + 1] === ']')) {
          value += s[i + 1]
          i += 2
        } else if (c === '"') {
          i++
          break
        } else {
          value += c
          i++
        }
      }
      into[`sd.${id}.${name}`] = value
    }
    if (s[i] !== ']') return `RFC 5424 SD-ELEMENT [${id}] is not closed`
    at = i + 1
  }
  return at
}

function parse3164(pri: number, s: string, receivedAt: number): SyslogMessage {
  let ts: number | undefined
  let rest = s
  let hostname: string | undefined
  const m = RFC3164_TS.exec(s)
  if (m) {
    ts = bsdTime(m, receivedAt)
    rest = s.slice(m[0].length)
    // HOSTNAME then TAG; a first word that is itself a tag ("sshd[1]:") means no host was sent
    const sp = rest.indexOf(' ')
    if (sp > 0 && !rest.slice(0, sp).endsWith(':')) {
      hostname = rest.slice(0, sp)
      rest = rest.slice(sp + 1)
    }
  }
  let app: string | undefined
  let procid: string | undefined
  const t = RFC3164_TAG.exec(rest)
  if (t) {
    app = t[1]
    procid = t[2]
    rest = rest.slice(t[0].length)
  }
  return { format: 'rfc3164', facility: pri >> 3, severity: pri & 7, ts, hostname, app, procid, msgid: undefined, structured: {}, message: trimEnd(rest) }
}

/** `Mmm dd hh:mm:ss` in the receiver's local time, in the year that puts it closest to now. */
function bsdTime(m: RegExpExecArray, receivedAt: number): number | undefined {
  const month = MONTHS[m[1]]
  if (month === undefined) return undefined
  const year = new Date(receivedAt).getFullYear()
  let best: number | undefined
  for (const y of [year - 1, year, year + 1]) {
    const t = new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime()
    if (best === undefined || Math.abs(t - receivedAt) < Math.abs(best - receivedAt)) best = t
  }
  return best
}

function trimEnd(s: string): string {
  let e = s.length
  while (e > 0 && (s.charCodeAt(e - 1) === 10 || s.charCodeAt(e - 1) === 13 || s.charCodeAt(e - 1) === 0)) e--
  return e === s.length ? s : s.slice(0, e)
}

const UNSAFE = /[.*>\s\u0000-\u001f\u007f]/g

/**
 * A syslog message → an `event` fact in the edge shape: type `syslog.<facility>`, the message,
 * attrs `severity`, `facility`, `app`, `procid`, `msgid`, `hostname`, `sd.<id>.<param>`; the
 * source is the hostname made a subject token (or `fixedSource` in a sidecar, or
 * `defaultSource` when the message names no host).
 */
export function syslogToEdge(m: SyslogMessage, receivedAt: number, fixedSource: string | undefined, defaultSource: string): Record<string, unknown> {
  const attrs: Record<string, string> = { ...m.structured, severity: SEVERITY[m.severity], facility: FACILITY[m.facility] ?? String(m.facility), format: m.format }
  if (m.app) attrs.app = m.app
  if (m.procid) attrs.procid = m.procid
  if (m.msgid) attrs.msgid = m.msgid
  if (m.hostname) attrs.hostname = m.hostname
  const source = fixedSource ?? (m.hostname ? m.hostname.replace(UNSAFE, '-').slice(0, 128) : defaultSource)
  return {
    lane: 'event',
    source,
    ts: m.ts !== undefined && m.ts >= 0 ? Math.floor(m.ts) : receivedAt,
    type: `syslog.${FACILITY[m.facility] ?? 'unknown'}`,
    message: m.message,
    attrs,
  }
}
