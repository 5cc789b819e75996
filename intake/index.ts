/**
 * Intake doors: the ways facts come in besides raw NATS — the sidecar's NDJSON door, OTLP/HTTP,
 * syslog and Prometheus scraping, one folder each. Each door maps what it reads to
 * the JSON edge shape and hands it to a sink: the sidecar's (validate, scrub, WAL) or `ben
 * up`'s (validate, publish to FACTS; the spine scrubs). Bad input is refused or counted with a
 * reason, never stops the door, and never costs a valid record.
 */
export { serveNdjson, type NdjsonServer, type NdjsonOptions, type NdjsonTarget, type FactsAnswer } from './ndjson/server.js'
export { serveOtlp, type OtlpOptions, type Door } from './otlp/server.js'
export { otlpMapping, DEFAULT_OTLP_MAPPING, toToken, type OtlpMapping } from './otlp/mapping.js'
export { mapLogs, mapMetrics, type Mapped } from './otlp/map.js'
export { OtlpTypes } from './otlp/proto.js'
export { sidecarSink, publisherSink, type IntakeSink, type SinkResult, type SinkRejection, type SidecarTarget } from './sink.js'
export { DropReason, RecordReason, IntakeError, IntakeErrorCode, isIntakeError } from './errors.js'
export { parseHostPort, formatHostPort, formatListen, type HostPort, type ListenAddress } from './listen.js'
export * as intakeMetrics from './metrics.js'
export { serveSyslog, type SyslogOptions } from './syslog/server.js'
export { parseSyslog, syslogToEdge, type SyslogMessage } from './syslog/parse.js'
export { SyslogFramer, type Framed } from './syslog/framing.js'
export { openDoors, type DoorsConfig } from './doors.js'
export { parseExposition, type Sample } from './scrape/parse.js'
export { parseTarget, scrapeOnce, startScraper, type ScrapeTarget, type ScrapeOptions, type ScrapeReport, type Scraper } from './scrape/scraper.js'
