ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE views MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE rollup_1m MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_delivery MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_device MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE rollup_1h_content MODIFY SETTING non_replicated_deduplication_window = 10000;

