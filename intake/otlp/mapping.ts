import { isToken } from '../../schemas/index.js'
import { IntakeError, IntakeErrorCode } from '../errors.js'

/**
 * How OTLP attributes become a fact's source, labels and attrs (README "OTLP"):
 *
 * - **source**: the first of `sourceFrom` present among the resource attributes, made into a
 *   subject token (`.`, `*`, `>` and white space become `-`, cut at 128); `defaultSource` when
 *   none is. In a sidecar the source is always the sidecar's id (it speaks only for itself):
 *   the resource attributes are then kept as labels/attrs like the others.
 * - **labels** (metrics) and **attrs** (logs): the resource attributes named in `resourceKeys`
 *   (all of them with `'*'`), then the scope's name as `otel.scope` (logs), then the record's or
 *   data point's own attributes, which win over a resource attribute of the same name. Values
 *   are strings: scalars as written, arrays and maps as JSON.
 * - **logs** → lane `event`: `type` is the record's event name (or its `event.name` attribute),
 *   else `logType`; `message` is the body (a string as is, anything else as JSON); attrs add
 *   `severity` (the text, else the name of the severity number), `trace_id` and `span_id`.
 *   `ts` is the record's time, else its observed time, else the time it was received.
 * - **metrics** → lane `metric`, one fact per data point: gauges and sums under the metric's
 *   name; histograms and exponential histograms as `<name>.count` and `<name>.sum`; summaries
 *   as `<name>.count`, `<name>.sum` and `<name>` with a `quantile` label per quantile.
 *   Points flagged "no recorded value" are dropped and counted (`no_value`).
 */
export interface OtlpMapping {
  readonly sourceFrom: readonly string[]
  readonly defaultSource: string
  readonly resourceKeys: readonly string[] | '*'
  readonly logType: string
}

export const DEFAULT_OTLP_MAPPING: OtlpMapping = Object.freeze({
  sourceFrom: Object.freeze(['host.name', 'service.instance.id', 'service.name']),
  defaultSource: 'otlp',
  resourceKeys: Object.freeze(['service.name', 'service.namespace', 'service.version', 'host.name', 'deployment.environment']),
  logType: 'log',
})

/** Validates once, fills defaults, freezes. */
export function otlpMapping(o: Partial<OtlpMapping> = {}): OtlpMapping {
  const m = { ...DEFAULT_OTLP_MAPPING, ...o }
  if (!isToken(m.defaultSource)) throw new IntakeError(IntakeErrorCode.Config, `OTLP defaultSource '${m.defaultSource}' is not a subject token (no '.', '*', '>', spaces)`)
  if (m.sourceFrom.some((k) => !k)) throw new IntakeError(IntakeErrorCode.Config, 'OTLP sourceFrom has an empty attribute name')
  if (!m.logType) throw new IntakeError(IntakeErrorCode.Config, 'OTLP logType must not be empty')
  return Object.freeze({ ...m, sourceFrom: Object.freeze([...m.sourceFrom]), resourceKeys: m.resourceKeys === '*' ? '*' : Object.freeze([...m.resourceKeys]) })
}

const UNSAFE = /[.*>\s\u0000-\u001f\u007f]/g

/** Any name → a subject token (`.`, `*`, `>`, white space and controls → `-`, at most 128). */
export function toToken(name: string): string {
  return name.replace(UNSAFE, '-').slice(0, 128)
}
