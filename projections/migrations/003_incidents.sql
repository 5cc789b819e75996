-- Incident lifecycle facts (opened, updated, resolved): every transition in `incident_events`,
-- the latest state per incident in `incidents` (ReplacingMergeTree keeps the highest ts).
CREATE TABLE IF NOT EXISTS incident_events
(
    id String, ts DateTime64(3, 'UTC'), source LowCardinality(String), kind LowCardinality(String), lane LowCardinality(String),
    producer LowCardinality(String), lineage Array(String), config Map(String, UInt64), explain String,
    incident_id String,
    transition LowCardinality(String),
    severity LowCardinality(String),
    entity Map(String, String),
    opened_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    fact_ids Array(String),
    title String,
    schema_fp LowCardinality(String), avro String, stream LowCardinality(String), stream_seq UInt64,
    INDEX id_bf id TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (incident_id, ts, id);

-- Same columns as incident_events; one row per incident, the highest stream sequence wins.
CREATE TABLE IF NOT EXISTS incidents AS incident_events
ENGINE = ReplacingMergeTree(stream_seq)
ORDER BY incident_id;
