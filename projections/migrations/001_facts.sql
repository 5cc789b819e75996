-- Telemetry facts (metric, event, diag, alert): raw from FACTS, or scrubbed from DERIVED once
-- the scrub stage runs. One row per fact id: the projector never inserts an id twice after a
-- redelivery or restart, and ReplacingMergeTree collapses anything that slips past it.
-- `avro` holds the fact's Avro bytes (base64, schema `schema_fp`): replay rebuilds from them.
CREATE TABLE IF NOT EXISTS facts
(
    id          String,
    ts          DateTime64(3, 'UTC'),
    source      LowCardinality(String),
    kind        LowCardinality(String),
    lane        LowCardinality(String),
    producer    LowCardinality(String),
    name        String,
    value       Nullable(Float64),
    type        String,
    component   String,
    rule        String,
    severity    LowCardinality(String),
    message     String,
    labels      Map(String, String),
    lineage     Array(String),
    config      Map(String, UInt64),
    explain     String,
    redactions  String,
    schema_fp   LowCardinality(String),
    avro        String,
    stream      LowCardinality(String),
    stream_seq  UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (source, ts, id);
