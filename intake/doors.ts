import type { Door } from './otlp/server.js'
import { serveOtlp, type OtlpOptions } from './otlp/server.js'
import { serveSyslog, type SyslogOptions } from './syslog/server.js'
import { parseHostPort } from './listen.js'
import type { IntakeSink } from './sink.js'

export interface DoorsConfig {
  /** `host:port` for OTLP/HTTP (e.g. 127.0.0.1:4318). */
  readonly otlp?: string
  readonly otlpOptions?: OtlpOptions
  /** `host:port` for syslog over UDP and TCP (e.g. 127.0.0.1:5514). */
  readonly syslog?: string
  readonly syslogOptions?: SyslogOptions
}

/** Opens the configured doors on one sink (the sidecar's or `ben up`'s); closes those opened if one fails. */
export async function openDoors(sink: IntakeSink, c: DoorsConfig): Promise<Door[]> {
  const doors: Door[] = []
  try {
    if (c.otlp) doors.push(await serveOtlp(sink, parseHostPort(c.otlp, '--otlp'), c.otlpOptions))
    if (c.syslog) doors.push(await serveSyslog(sink, parseHostPort(c.syslog, '--syslog'), c.syslogOptions))
  } catch (err) {
    await Promise.all(doors.map((d) => d.close()))
    throw err
  }
  return doors
}
