-- Derived facts: detector output, policy decisions, signed commands and their acknowledgements.
-- Same conventions as `facts`: one row per fact id, original Avro bytes kept for replay.
CREATE TABLE IF NOT EXISTS anomalies
(
    id String, ts DateTime64(3, 'UTC'), source LowCardinality(String), kind LowCardinality(String), lane LowCardinality(String),
    producer LowCardinality(String), lineage Array(String), config Map(String, UInt64), explain String,
    metric String,
    value Float64,
    score Float64,
    threshold Float64,
    detectors Array(String),
    detector_scores Array(Float64),
    baseline_centre Float64,
    baseline_spread Float64,
    severity LowCardinality(String),
    labels Map(String, String),
    schema_fp LowCardinality(String), avro String, stream LowCardinality(String), stream_seq UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (source, ts, id);

CREATE TABLE IF NOT EXISTS decisions
(
    id String, ts DateTime64(3, 'UTC'), source LowCardinality(String), kind LowCardinality(String), lane LowCardinality(String),
    producer LowCardinality(String), lineage Array(String), config Map(String, UInt64), explain String,
    outcome LowCardinality(String),
    rule String,
    pack String,
    pack_revision UInt64,
    severity LowCardinality(String),
    verb LowCardinality(String),
    target String,
    args String,
    limits String,
    suppressed UInt64,
    reason String,
    labels Map(String, String),
    schema_fp LowCardinality(String), avro String, stream LowCardinality(String), stream_seq UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (source, ts, id);

CREATE TABLE IF NOT EXISTS commands
(
    id String, ts DateTime64(3, 'UTC'), source LowCardinality(String), kind LowCardinality(String), lane LowCardinality(String),
    producer LowCardinality(String), lineage Array(String), config Map(String, UInt64), explain String,
    command_id String,
    status LowCardinality(String),
    target String,
    verb LowCardinality(String),
    args String,
    issued_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    nonce String,
    key_id String,
    decision_id String,
    signers Array(String),
    required Array(String),
    reason String,
    schema_fp LowCardinality(String), avro String, stream LowCardinality(String), stream_seq UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (target, ts, id);

CREATE TABLE IF NOT EXISTS acks
(
    id String, ts DateTime64(3, 'UTC'), source LowCardinality(String), kind LowCardinality(String), lane LowCardinality(String),
    producer LowCardinality(String), lineage Array(String), config Map(String, UInt64), explain String,
    command_id String,
    target String,
    verb LowCardinality(String),
    status LowCardinality(String),
    reason String,
    key_id String,
    schema_fp LowCardinality(String), avro String, stream LowCardinality(String), stream_seq UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (target, ts, id);
