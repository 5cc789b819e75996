import type { Door } from './otlp/server.js'
import { serveOtlp, type OtlpOptions } from './otlp/server.js'
import { serveSyslog, type SyslogOptions } from './syslog/server.js'
import { parseHostPort } from './listen.js'
import type { IntakeSink } from './sink.js'
import { parseTarget, startScraper, type ScrapeOptions } from './scrape/scraper.js'

export interface DoorsConfig {
  /** `host:port` for OTLP/HTTP (e.g. 127.0.0.1:4318). */
  readonly otlp?: string
  readonly otlpOptions?: OtlpOptions
  /** `host:port` for syslog over UDP and TCP (e.g. 127.0.0.1:5514). */
  readonly syslog?: string
  readonly syslogOptions?: SyslogOptions
  /** Prometheus targets to pull (`url` or `source=url`). */
  readonly scrape?: readonly string[]
  readonly scrapeOptions?: ScrapeOptions
}

/** Opens the configured doors on one sink (the sidecar's or `ben up`'s); closes those opened if one fails. */
export async function openDoors(sink: IntakeSink, c: DoorsConfig): Promise<Door[]> {
  const doors: Door[] = []
  try {
    if (c.otlp) doors.push(await serveOtlp(sink, parseHostPort(c.otlp, '--otlp'), c.otlpOptions))
    if (c.syslog) doors.push(await serveSyslog(sink, parseHostPort(c.syslog, '--syslog'), c.syslogOptions))
    if (c.scrape?.length) {
      const targets = c.scrape.map(parseTarget)
      const scraper = startScraper(sink, targets, c.scrapeOptions)
      doors.push({ name: 'scrape', address: targets.map((t) => `${sink.source ?? t.source}=${t.url}`).join(', '), port: 0, close: () => scraper.close() })
    }
  } catch (err) {
    await Promise.all(doors.map((d) => d.close()))
    throw err
  }
  return doors
}
