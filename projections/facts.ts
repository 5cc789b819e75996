import type { Fact } from '../schemas/index.js'
import type { Projection, RowMeta } from './projection.js'
import { COMMON_COLUMNS, commonValues, TRAILER_COLUMNS, trailerValues } from './rows.js'

const EMPTY = {}
const NO_REDACTIONS = '[]'

/**
 * The `facts` table: telemetry facts (metric, event, diag, alert). Fed from FACTS by default;
 * `fromScrubbed` follows the scrubbed subjects in DERIVED instead, so that ClickHouse holds
 * scrubbed data only once the scrub stage runs.
 */
export function factsProjection(opts: { fromScrubbed?: boolean } = {}): Projection {
  return {
    name: opts.fromScrubbed ? 'facts-scrubbed' : 'facts',
    version: 1,
    table: 'facts',
    columns: [...COMMON_COLUMNS, 'name', 'value', 'type', 'component', 'rule', 'severity', 'message', 'labels', 'redactions', ...TRAILER_COLUMNS],
    stream: opts.fromScrubbed ? 'DERIVED' : 'FACTS',
    filterSubject: (s) => (opts.fromScrubbed ? s.scrubbedAll : s.factsAll),
    handles: (f: Fact) => f.kind === 'metric' || f.kind === 'event' || f.kind === 'diag' || f.kind === 'alert',
    toRow(f: Fact, meta: RowMeta): unknown[] {
      let specific: unknown[]
      switch (f.kind) {
        case 'metric':
          specific = [f.payload.name, f.payload.value, '', '', '', '', '', f.payload.labels]
          break
        case 'event':
          specific = ['', null, f.payload.type, '', '', '', f.payload.message, f.payload.attrs]
          break
        case 'diag':
          specific = ['', null, '', f.payload.component, '', '', f.payload.message, f.payload.attrs]
          break
        case 'alert':
          specific = ['', null, '', '', f.payload.rule, f.payload.severity, f.payload.message, f.payload.attrs]
          break
        default:
          specific = ['', null, '', '', '', '', '', EMPTY]
      }
      const redactions = 'redactions' in f && f.redactions.length ? JSON.stringify(f.redactions) : NO_REDACTIONS
      return [...commonValues(f), ...specific, redactions, ...trailerValues(f, meta)]
    },
  }
}
