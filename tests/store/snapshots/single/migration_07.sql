CREATE TABLE IF NOT EXISTS path_entries (
  customer_id UInt32, day Date, slice UInt64, entry_hash UInt64, e_kind UInt8, e_p1 UInt64, e_p2 UInt64, e_p3 UInt64, e_p4 UInt64, e_next UInt64, n UInt64
)
ENGINE = MergeTree
ORDER BY (customer_id, day, slice);

CREATE TABLE IF NOT EXISTS subscriber_days (
  customer_id UInt32, day Date, slice UInt64, subscriber_key UInt64, d_attempts UInt64, d_plays UInt64, d_play_ms UInt64, d_rebuffer_ms UInt64, d_startup_ms UInt64, d_failures UInt64, d_poorviews UInt64, d_titles Array(UInt64), d_devices Array(UInt64), d_device_classes Array(UInt64), d_firstseen DateTime64(3, 'UTC'), d_lastseen DateTime64(3, 'UTC'), d_latest_start_ms Int64
)
ENGINE = MergeTree
ORDER BY (customer_id, day, slice);

CREATE TABLE IF NOT EXISTS stored_day_slices (
  customer_id UInt32, kind LowCardinality(String), day Date, slice UInt64, views_version UInt64,
  computed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (customer_id, kind, day, computed_at);

