import protobuf from 'protobufjs'

/**
 * The subset of opentelemetry-proto (v1, stable: common, resource, logs, metrics and the two
 * collector services) that Ben reads, with the upstream field numbers. Fields Ben does not use
 * (exemplars, histogram buckets, min/max, temporality, metadata) are left out: protobuf skips
 * unknown fields, so a request that carries them still decodes. Compiled once at load; nothing
 * is fetched at run time. Logs and metrics share one envelope (resource → scope → records, the
 * export request and its partial-success answer), and the data points their common head.
 */
const envelope = (signal: string, scoped: string, records: string, rejected: string) => `
message Resource${signal} { Resource resource = 1; repeated Scope${signal} scope_${scoped} = 2; string schema_url = 3; }
message Scope${signal} { InstrumentationScope scope = 1; ${records} = 2; string schema_url = 3; }
message Export${signal}ServiceRequest { repeated Resource${signal} resource_${scoped} = 1; }
message Export${signal}ServiceResponse { Export${signal}PartialSuccess partial_success = 1; }
message Export${signal}PartialSuccess { int64 ${rejected} = 1; string error_message = 2; }`

/** A kind of data point (attributes at its own field number, start and time, then its values) and the metric data that hold it. */
const point = (name: string, holders: readonly string[], attributes: number, values: string) => `
message ${name} { repeated KeyValue attributes = ${attributes}; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; ${values} }
${holders.map((h) => `message ${h} { repeated ${name} data_points = 1; }`).join('\n')}`

const OTLP_PROTO = `
syntax = "proto3";
package opentelemetry.proto;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
${envelope('Logs', 'logs', 'repeated LogRecord log_records', 'rejected_log_records')}
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
${envelope('Metrics', 'metrics', 'repeated Metric metrics', 'rejected_data_points')}
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; ExponentialHistogram exponential_histogram = 10; Summary summary = 11; }
}
${point('NumberDataPoint', ['Gauge', 'Sum'], 7, 'oneof value { double as_double = 4; sfixed64 as_int = 6; } uint32 flags = 8;')}
${point('HistogramDataPoint', ['Histogram'], 9, 'fixed64 count = 4; optional double sum = 5; uint32 flags = 10;')}
${point('ExponentialHistogramDataPoint', ['ExponentialHistogram'], 1, 'fixed64 count = 4; optional double sum = 5; uint32 flags = 10;')}
${point('SummaryDataPoint', ['Summary'], 7, 'fixed64 count = 4; double sum = 5; repeated ValueAtQuantile quantile_values = 6; uint32 flags = 8; message ValueAtQuantile { double quantile = 1; double value = 2; }')}
message Status { int32 code = 1; string message = 2; }
`

const root = protobuf.parse(OTLP_PROTO, { keepCase: false }).root
const type = (name: string) => root.lookupType(`opentelemetry.proto.${name}`)

export const OtlpTypes = {
  LogsRequest: type('ExportLogsServiceRequest'),
  LogsResponse: type('ExportLogsServiceResponse'),
  MetricsRequest: type('ExportMetricsServiceRequest'),
  MetricsResponse: type('ExportMetricsServiceResponse'),
  Status: type('Status'),
  AnyValue: type('AnyValue'),
  Resource: type('Resource'),
  InstrumentationScope: type('InstrumentationScope'),
} as const
