CREATE TABLE IF NOT EXISTS derived_versions ON CLUSTER sightline (
  derived_table String, version String, declarations String,
  built_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/derived_versions/{uuid}', '{replica}', built_at)
ORDER BY derived_table;

ALTER TABLE stored_day_slices ON CLUSTER sightline ADD COLUMN IF NOT EXISTS catalog_version String;

