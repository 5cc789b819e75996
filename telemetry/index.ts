/** Ben's own telemetry: `/metrics` for Prometheus, and the JetStream gauges read at scrape time. */
export { serveMetrics, type MetricsServer } from './server.js'
export { registerJetStreamCollectors } from './collectors.js'
export { TelemetryError, TelemetryErrorCode, isTelemetryError } from './errors.js'
