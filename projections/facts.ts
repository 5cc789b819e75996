import type { Fact } from '../schemas/index.js'
import type { Projection } from './projection.js'
import { commonColumns } from './rows.js'

const EMPTY = {}

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
    stream: opts.fromScrubbed ? 'DERIVED' : 'FACTS',
    filterSubject: (s) => (opts.fromScrubbed ? s.scrubbedAll : s.factsAll),
    handles: (f: Fact) => f.kind === 'metric' || f.kind === 'event' || f.kind === 'diag' || f.kind === 'alert',
    toRow(f: Fact, seq: number) {
      const row: Record<string, unknown> = {
        ...commonColumns(f, seq),
        name: '',
        value: null,
        type: '',
        component: '',
        rule: '',
        severity: '',
        message: '',
        labels: EMPTY,
        redactions: '[]',
      }
      switch (f.kind) {
        case 'metric':
          row.name = f.payload.name
          row.value = f.payload.value
          row.labels = f.payload.labels
          break
        case 'event':
          row.type = f.payload.type
          row.message = f.payload.message
          row.labels = f.payload.attrs
          break
        case 'diag':
          row.component = f.payload.component
          row.message = f.payload.message
          row.labels = f.payload.attrs
          break
        case 'alert':
          row.rule = f.payload.rule
          row.severity = f.payload.severity
          row.message = f.payload.message
          row.labels = f.payload.attrs
          break
        default:
          break
      }
      if ('redactions' in f) row.redactions = JSON.stringify(f.redactions)
      return row
    },
  }
}
