CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER sightline (version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations/{uuid}', '{replica}') ORDER BY version;

