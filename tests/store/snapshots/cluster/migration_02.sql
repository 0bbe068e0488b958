ALTER TABLE events_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE views_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE rollup_1m_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_delivery_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_device_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_content_local ON CLUSTER sightline MODIFY SETTING replicated_deduplication_window = 10000;

