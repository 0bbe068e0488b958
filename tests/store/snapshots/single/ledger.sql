CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version;

