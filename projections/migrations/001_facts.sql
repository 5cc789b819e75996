-- Raw (and, from the processor chain on, scrubbed) telemetry facts. One row per fact id.
-- ReplacingMergeTree is the safety net; the projector itself never inserts an id twice.
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
    body        String,
    stream_seq  UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (source, ts, id);
