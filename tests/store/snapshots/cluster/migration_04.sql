ALTER TABLE views_local ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `viewer_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`viewerid`), 0, cityHash64(`viewerid`));

ALTER TABLE views ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `viewer_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`viewerid`), 0, cityHash64(`viewerid`));

ALTER TABLE views_local ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `title_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`assetid`), 0, cityHash64(`assetid`));

ALTER TABLE views ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `title_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`assetid`), 0, cityHash64(`assetid`));

ALTER TABLE views_local ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `subscriber_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`subscriberid`), 0, cityHash64(`subscriberid`));

ALTER TABLE views ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `subscriber_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`subscriberid`), 0, cityHash64(`subscriberid`));

ALTER TABLE views_local ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `series_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`series`), 0, cityHash64(`series`));

ALTER TABLE views ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `series_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`series`), 0, cityHash64(`series`));

ALTER TABLE views_local ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `device_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`device`), 0, cityHash64(`device`));

ALTER TABLE views ON CLUSTER sightline ADD COLUMN IF NOT EXISTS `device_hash` SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty(`device`), 0, cityHash64(`device`));

ALTER TABLE views_local ON CLUSTER sightline MATERIALIZE COLUMN `viewer_hash`, MATERIALIZE COLUMN `title_hash`, MATERIALIZE COLUMN `subscriber_hash`, MATERIALIZE COLUMN `series_hash`, MATERIALIZE COLUMN `device_hash` SETTINGS mutations_sync = 2;

