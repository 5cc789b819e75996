import { DropReason } from '../errors.js'
import type { OtlpMapping } from './mapping.js'
import { toToken } from './mapping.js'
import { attributesInto, copyOfBase, findAttribute, idHex, int64, isSet, nanosToMs, anyToString, type KeyValue } from './values.js'

/** What one request mapped to: edge objects, the record each came from, and records refused here. */
export interface Mapped {
  readonly facts: unknown[]
  /** `origin[i]` is the record (log record or data point) that `facts[i]` came from. */
  readonly origin: number[]
  /** Log records or data points in the request. */
  records: number
  readonly dropped: Array<{ record: number; reason: DropReason; message: string }>
}

interface Resource {
  attributes?: KeyValue[] | null
}
interface Scope {
  name?: string | null
}

const SEVERITY = [
  '',
  'TRACE',
  'TRACE2',
  'TRACE3',
  'TRACE4',
  'DEBUG',
  'DEBUG2',
  'DEBUG3',
  'DEBUG4',
  'INFO',
  'INFO2',
  'INFO3',
  'INFO4',
  'WARN',
  'WARN2',
  'WARN3',
  'WARN4',
  'ERROR',
  'ERROR2',
  'ERROR3',
  'ERROR4',
  'FATAL',
  'FATAL2',
  'FATAL3',
  'FATAL4',
]

function sourceOf(resource: Resource | null | undefined, m: OtlpMapping, fixed: string | undefined): string {
  if (fixed) return fixed
  for (const k of m.sourceFrom) {
    const v = findAttribute(resource?.attributes, k)
    if (v) return toToken(v)
  }
  return m.defaultSource
}

function resourceBase(resource: Resource | null | undefined, m: OtlpMapping): Record<string, string> {
  const out: Record<string, string> = {}
  const kvs = resource?.attributes
  if (!kvs) return out
  if (m.resourceKeys === '*') attributesInto(out, kvs)
  else for (const kv of kvs) if (kv.key && m.resourceKeys.includes(kv.key)) out[kv.key] = anyToString(kv.value)
  return out
}

/** A resource's source and the attributes it gives every record (mapping.ts). */
export function resourceContext(resource: Resource | null | undefined, m: OtlpMapping, fixedSource: string | undefined): { source: string; base: Record<string, string> } {
  return { source: sourceOf(resource, m, fixedSource), base: resourceBase(resource, m) }
}

/** What a log record gives besides its attributes, read from protobufjs objects or OTLP/JSON or straight from the wire. */
export interface LogFields {
  readonly severityText?: string | null
  readonly severityNumber?: number | null
  readonly traceId?: unknown
  readonly spanId?: unknown
  readonly eventName?: string | null
  /** Milliseconds: the record's time, else its observed time, else when it was received. */
  readonly ts: number
  readonly message: string
}

/** One log record → an `event` fact (attrs: the resource's and scope's, then the record's own). */
export function logFact(out: Mapped, record: number, source: string, attrs: Record<string, string>, f: LogFields, m: OtlpMapping): void {
  const sev = f.severityText || SEVERITY[f.severityNumber ?? 0] || ''
  if (sev) attrs.severity = sev
  const trace = idHex(f.traceId)
  if (trace) attrs.trace_id = trace
  const span = idHex(f.spanId)
  if (span) attrs.span_id = span
  const type = f.eventName || attrs['event.name'] || m.logType
  out.facts.push({ lane: 'event', source, ts: f.ts, type, message: f.message, attrs })
  out.origin.push(record)
}

interface LogRecord {
  timeUnixNano?: unknown
  observedTimeUnixNano?: unknown
  severityNumber?: number | null
  severityText?: string | null
  body?: Parameters<typeof anyToString>[0]
  attributes?: KeyValue[] | null
  traceId?: unknown
  spanId?: unknown
  eventName?: string | null
}
interface LogsRequest {
  resourceLogs?: Array<{ resource?: Resource | null; scopeLogs?: Array<{ scope?: Scope | null; logRecords?: LogRecord[] | null }> | null }> | null
}

/** OTLP logs (protobufjs objects or OTLP/JSON) → `event` facts in the edge shape. Never throws for a decoded request. */
export function mapLogs(req: LogsRequest, m: OtlpMapping, fixedSource: string | undefined, receivedAt: number): Mapped {
  const out: Mapped = { facts: [], origin: [], records: 0, dropped: [] }
  for (const rl of req.resourceLogs ?? []) {
    const { source, base } = resourceContext(rl.resource, m, fixedSource)
    for (const sl of rl.scopeLogs ?? []) {
      const scope = sl.scope?.name || undefined
      for (const r of sl.logRecords ?? []) {
        const attrs = copyOfBase(base)
        if (scope) attrs['otel.scope'] = scope
        attributesInto(attrs, r.attributes)
        const ts = nanosToMs(r.timeUnixNano) || nanosToMs(r.observedTimeUnixNano) || receivedAt
        logFact(
          out,
          out.records++,
          source,
          attrs,
          { severityText: r.severityText, severityNumber: r.severityNumber, traceId: r.traceId, spanId: r.spanId, eventName: r.eventName, ts, message: anyToString(r.body) },
          m,
        )
      }
    }
  }
  return out
}

interface Point {
  attributes?: KeyValue[] | null
  timeUnixNano?: unknown
  startTimeUnixNano?: unknown
  asDouble?: number | null
  asInt?: unknown
  count?: unknown
  sum?: number | null
  flags?: number | null
  quantileValues?: Array<{ quantile?: number | null; value?: number | null }> | null
}
interface Metric {
  name?: string | null
  gauge?: { dataPoints?: Point[] | null } | null
  sum?: { dataPoints?: Point[] | null } | null
  histogram?: { dataPoints?: Point[] | null } | null
  exponentialHistogram?: { dataPoints?: Point[] | null } | null
  summary?: { dataPoints?: Point[] | null } | null
}
interface MetricsRequest {
  resourceMetrics?: Array<{ resource?: Resource | null; scopeMetrics?: Array<{ metrics?: Metric[] | null }> | null }> | null
}

const NO_RECORDED_VALUE = 1

/** OTLP metrics → `metric` facts in the edge shape, one or more per data point. Never throws for a decoded request. */
export function mapMetrics(req: MetricsRequest, m: OtlpMapping, fixedSource: string | undefined, receivedAt: number): Mapped {
  const out: Mapped = { facts: [], origin: [], records: 0, dropped: [] }
  for (const rm of req.resourceMetrics ?? []) {
    const { source, base } = resourceContext(rm.resource, m, fixedSource)
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const name = metric.name ?? ''
        const emit = (record: number, p: Point, n: string, value: number, extra?: Record<string, string>) => {
          const labels = copyOfBase(base)
          attributesInto(labels, p.attributes)
          if (extra) Object.assign(labels, extra)
          out.facts.push({ lane: 'metric', source, ts: nanosToMs(p.timeUnixNano) || receivedAt, name: n, value, labels })
          out.origin.push(record)
        }
        const points = (kind: { dataPoints?: Point[] | null } | null | undefined, each: (record: number, p: Point) => void) => {
          for (const p of kind?.dataPoints ?? []) {
            const record = out.records++
            if (((p.flags ?? 0) & NO_RECORDED_VALUE) !== 0) {
              out.dropped.push({ record, reason: DropReason.NoValue, message: `${name}: data point flagged "no recorded value"` })
              continue
            }
            each(record, p)
          }
        }
        if (metric.gauge || metric.sum) {
          points(metric.gauge ?? metric.sum, (record, p) => {
            if (isSet(p, 'asDouble')) emit(record, p, name, Number(p.asDouble))
            else if (isSet(p, 'asInt')) emit(record, p, name, int64(p.asInt))
            else out.dropped.push({ record, reason: DropReason.NoValue, message: `${name}: data point has neither asDouble nor asInt` })
          })
        } else if (metric.histogram || metric.exponentialHistogram) {
          points(metric.histogram ?? metric.exponentialHistogram, (record, p) => {
            emit(record, p, `${name}.count`, int64(p.count ?? 0))
            if (isSet(p, 'sum')) emit(record, p, `${name}.sum`, Number(p.sum))
          })
        } else if (metric.summary) {
          points(metric.summary, (record, p) => {
            emit(record, p, `${name}.count`, int64(p.count ?? 0))
            emit(record, p, `${name}.sum`, Number(p.sum ?? 0))
            for (const q of p.quantileValues ?? []) emit(record, p, name, Number(q.value ?? 0), { quantile: String(q.quantile ?? 0) })
          })
        } else {
          const record = out.records++
          out.dropped.push({ record, reason: DropReason.NoValue, message: `${name}: a metric with no data (no gauge, sum, histogram or summary)` })
        }
      }
    }
  }
  return out
}
