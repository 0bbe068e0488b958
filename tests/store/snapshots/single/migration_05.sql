CREATE TABLE IF NOT EXISTS error_events (
  `customer_id` UInt32,
  `view_id` UUID,
  `ts` DateTime64(3, 'UTC'),
  `event` Enum8('play_request' = 1, 'first_frame' = 2, 'pause' = 3, 'resume' = 4, 'seek_start' = 5, 'seek_end' = 6, 'stall_start' = 7, 'stall_end' = 8, 'rendition_change' = 9, 'heartbeat' = 10, 'error' = 11, 'end' = 12, 'exit' = 13, 'cdn_change' = 14, 'ad_request' = 15, 'ad_impression' = 16, 'ad_start' = 17, 'ad_first_quartile' = 18, 'ad_midpoint' = 19, 'ad_third_quartile' = 20, 'ad_complete' = 21, 'ad_skip' = 22, 'ad_click' = 23, 'ad_error' = 24, 'ad_stall' = 25),
  `assetid` String,
  `assetname` String,
  `series` LowCardinality(String),
  `season` UInt32,
  `episode` UInt32,
  `genre` LowCardinality(String),
  `streamtype` LowCardinality(String),
  `contentduration` UInt32,
  `viewerid` String,
  `subscriberid` String,
  `subscribertype` LowCardinality(String),
  `subscribertag` LowCardinality(String),
  `ipaddress` String,
  `device` LowCardinality(String),
  `brand` LowCardinality(String),
  `model` LowCardinality(String),
  `platform` LowCardinality(String),
  `osversion` LowCardinality(String),
  `browser` LowCardinality(String),
  `browserversion` LowCardinality(String),
  `appname` LowCardinality(String),
  `appversion` LowCardinality(String),
  `screen` LowCardinality(String),
  `player` LowCardinality(String),
  `playerversion` LowCardinality(String),
  `sdkversion` LowCardinality(String),
  `streamformat` LowCardinality(String),
  `drm` LowCardinality(String),
  `cdn` LowCardinality(String),
  `host` LowCardinality(String),
  `isp` LowCardinality(String),
  `asn` UInt32,
  `connectiontype` LowCardinality(String),
  `country` LowCardinality(String),
  `region` LowCardinality(String),
  `city` LowCardinality(String),
  `experiment` LowCardinality(String),
  `custom1` LowCardinality(String),
  `custom2` LowCardinality(String),
  `custom3` LowCardinality(String),
  `custom4` LowCardinality(String),
  `custom5` LowCardinality(String),
  `custom6` LowCardinality(String),
  `custom7` LowCardinality(String),
  `custom8` LowCardinality(String),
  `custom9` LowCardinality(String),
  `custom10` LowCardinality(String),
  `seq` UInt32,
  `started` UInt8,
  `startup_ms` UInt32,
  `play_ms` UInt32,
  `rebuffer_ms` UInt32,
  `interval_bitrate_kbps` UInt32,
  `dropped_frames` UInt32,
  `bytes` UInt64,
  `ad_ms` UInt32,
  `live_latency_ms` UInt32,
  `rendition_bitrate_kbps` UInt32,
  `rendition_width` UInt16,
  `rendition_height` UInt16,
  `rendition_fps` Float32,
  `rendition_codec` LowCardinality(String),
  `fatal` UInt8,
  `error_code` LowCardinality(String),
  `error_message` String,
  `business_error` UInt8,
  `ad_position` LowCardinality(String),
  `ad_id` String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (customer_id, toStartOfHour(ts), view_id, seq);

ALTER TABLE error_events MODIFY SETTING non_replicated_deduplication_window = 10000;

DROP VIEW IF EXISTS error_events_mv;

TRUNCATE TABLE error_events;

INSERT INTO error_events (`customer_id`, `view_id`, `ts`, `event`, `assetid`, `assetname`, `series`, `season`, `episode`, `genre`, `streamtype`, `contentduration`, `viewerid`, `subscriberid`, `subscribertype`, `subscribertag`, `ipaddress`, `device`, `brand`, `model`, `platform`, `osversion`, `browser`, `browserversion`, `appname`, `appversion`, `screen`, `player`, `playerversion`, `sdkversion`, `streamformat`, `drm`, `cdn`, `host`, `isp`, `asn`, `connectiontype`, `country`, `region`, `city`, `experiment`, `custom1`, `custom2`, `custom3`, `custom4`, `custom5`, `custom6`, `custom7`, `custom8`, `custom9`, `custom10`, `seq`, `started`, `startup_ms`, `play_ms`, `rebuffer_ms`, `interval_bitrate_kbps`, `dropped_frames`, `bytes`, `ad_ms`, `live_latency_ms`, `rendition_bitrate_kbps`, `rendition_width`, `rendition_height`, `rendition_fps`, `rendition_codec`, `fatal`, `error_code`, `error_message`, `business_error`, `ad_position`, `ad_id`) SELECT `customer_id`, `view_id`, `ts`, `event`, `assetid`, `assetname`, `series`, `season`, `episode`, `genre`, `streamtype`, `contentduration`, `viewerid`, `subscriberid`, `subscribertype`, `subscribertag`, `ipaddress`, `device`, `brand`, `model`, `platform`, `osversion`, `browser`, `browserversion`, `appname`, `appversion`, `screen`, `player`, `playerversion`, `sdkversion`, `streamformat`, `drm`, `cdn`, `host`, `isp`, `asn`, `connectiontype`, `country`, `region`, `city`, `experiment`, `custom1`, `custom2`, `custom3`, `custom4`, `custom5`, `custom6`, `custom7`, `custom8`, `custom9`, `custom10`, `seq`, `started`, `startup_ms`, `play_ms`, `rebuffer_ms`, `interval_bitrate_kbps`, `dropped_frames`, `bytes`, `ad_ms`, `live_latency_ms`, `rendition_bitrate_kbps`, `rendition_width`, `rendition_height`, `rendition_fps`, `rendition_codec`, `fatal`, `error_code`, `error_message`, `business_error`, `ad_position`, `ad_id` FROM events WHERE event IN ('error', 'ad_error');

CREATE MATERIALIZED VIEW error_events_mv TO error_events AS SELECT `customer_id`, `view_id`, `ts`, `event`, `assetid`, `assetname`, `series`, `season`, `episode`, `genre`, `streamtype`, `contentduration`, `viewerid`, `subscriberid`, `subscribertype`, `subscribertag`, `ipaddress`, `device`, `brand`, `model`, `platform`, `osversion`, `browser`, `browserversion`, `appname`, `appversion`, `screen`, `player`, `playerversion`, `sdkversion`, `streamformat`, `drm`, `cdn`, `host`, `isp`, `asn`, `connectiontype`, `country`, `region`, `city`, `experiment`, `custom1`, `custom2`, `custom3`, `custom4`, `custom5`, `custom6`, `custom7`, `custom8`, `custom9`, `custom10`, `seq`, `started`, `startup_ms`, `play_ms`, `rebuffer_ms`, `interval_bitrate_kbps`, `dropped_frames`, `bytes`, `ad_ms`, `live_latency_ms`, `rendition_bitrate_kbps`, `rendition_width`, `rendition_height`, `rendition_fps`, `rendition_codec`, `fatal`, `error_code`, `error_message`, `business_error`, `ad_position`, `ad_id` FROM events WHERE event IN ('error', 'ad_error');

