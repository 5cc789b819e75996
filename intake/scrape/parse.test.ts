import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseExposition } from './parse.js'

// The example from the Prometheus exposition format documentation ("Text format example").
const DOC_EXAMPLE = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`

describe('parseExposition', () => {
  it('reads the documentation example', () => {
    const { samples, errors } = parseExposition(DOC_EXAMPLE)
    expect(errors).toEqual([])
    expect(samples.length).toBe(12)
    expect(samples[0]).toEqual({ name: 'http_requests_total', labels: { method: 'post', code: '200' }, value: 1027, ts: 1395066363000 })
    expect(samples[2].labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' })
    expect(samples[3]).toEqual({ name: 'metric_without_timestamp_and_labels', labels: {}, value: 12.47, ts: undefined })
    expect(samples[4].value).toBe(Infinity)
    expect(samples[4].ts).toBe(-3982045)
    expect(samples[6].labels.le).toBe('+Inf')
    expect(samples[10].value).toBe(1.7560473e7)
  })

  it('reports a bad line by number and keeps the others', () => {
    const { samples, errors } = parseExposition('a 1\nb{x="1" 2\nc{x=1} 3\nd notanumber\ne 5\n')
    expect(samples.map((s) => s.name)).toEqual(['a', 'e'])
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4])
  })

  it('never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => void parseExposition(s)))
  })
})
