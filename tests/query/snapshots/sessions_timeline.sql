SELECT `ts` AS `timestamp`, toString(`event`) AS `event`, `seq` AS `seq`, `started` AS `started`, `startup_ms` AS `startup_ms`, `play_ms` AS `play_ms`, `rebuffer_ms` AS `rebuffer_ms`, `interval_bitrate_kbps` AS `interval_bitrate_kbps`, `dropped_frames` AS `dropped_frames`, `bytes` AS `bytes`, `ad_ms` AS `ad_ms`, `live_latency_ms` AS `live_latency_ms`, `rendition_bitrate_kbps` AS `rendition_bitrate_kbps`, `rendition_width` AS `rendition_width`, `rendition_height` AS `rendition_height`, `rendition_fps` AS `rendition_fps`, `rendition_codec` AS `rendition_codec`, `fatal` AS `fatal`, `error_code` AS `error_code`, `error_message` AS `error_message`, `business_error` AS `business_error`, `ad_position` AS `ad_position`, `ad_id` AS `ad_id`, count() OVER () AS `totalrecords`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND `view_id` = {p1:UUID} AND (`ts` >= toDateTime64({p2:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p3:Int64}, 3, 'UTC'))
ORDER BY `seq` ASC, `ts` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": "019a42c1-7e00-7abc-8def-0123456789ab", "p2": 1761970168, "p3": 1762056869}
