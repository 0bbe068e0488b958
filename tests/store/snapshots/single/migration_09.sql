CREATE TABLE IF NOT EXISTS derived_versions (
  derived_table String, version String, declarations String,
  built_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(built_at)
ORDER BY derived_table;

ALTER TABLE stored_day_slices ADD COLUMN IF NOT EXISTS catalog_version String;

