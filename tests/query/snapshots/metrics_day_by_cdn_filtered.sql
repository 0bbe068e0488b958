SELECT `cdn` AS `cdn`, 100.0 * (sum(`part_rebuffer_ms`) / (sum(`part_play_ms`) + sum(`part_rebuffer_ms`))) AS `bufferingratio`, sum(`part_startup_ms_sum`) / sum(`part_plays`) / 1000.0 AS `latency`, sum(`part_bitrate_play`) / sum(`part_play_ms`) AS `avgbitrate`, count() OVER () AS `totalrecords`
FROM (SELECT `cdn` AS `cdn`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`, sumIf(toUInt64(`startup_ms`), `event` = 'first_frame') AS `part_startup_ms_sum`, sumIf(toUInt64(`play_ms`), 0) AS `part_play_ms`, sumIf(toUInt64(`rebuffer_ms`), 0) AS `part_rebuffer_ms`, sumIf(toUInt64(toUInt64(`interval_bitrate_kbps`) * `play_ms`), 0) AS `part_bitrate_play`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p4:Int64}, 3, 'UTC')) AND (`country` IN ({p5:String}, {p6:String}) AND `device` IN ({p7:String}))
GROUP BY `cdn`
UNION ALL SELECT `cdn` AS `cdn`, sumIf(toUInt64(1), 0) AS `part_plays`, sumIf(toUInt64(`startup_ms`), 0) AS `part_startup_ms_sum`, sumIf(toUInt64(`play_ms`), 1) AS `part_play_ms`, sumIf(toUInt64(`rebuffer_ms`), 1) AS `part_rebuffer_ms`, sumIf(toUInt64(toUInt64(`interval_bitrate_kbps`) * `play_ms`), 1) AS `part_bitrate_play`
FROM `events`
WHERE `customer_id` = {p8:UInt32} AND `ts` >= toDateTime64({p9:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p10:Int64}, 3, 'UTC') AND (`country` IN ({p11:String}, {p12:String}) AND `device` IN ({p13:String}))
GROUP BY `cdn`)
GROUP BY `cdn`
ORDER BY isFinite(toFloat64(`bufferingratio`)) DESC, `bufferingratio` DESC, `cdn` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p10": 1793664000, "p11": "US", "p12": "CA", "p13": "tv", "p2": 1793664000, "p3": 1793577600, "p4": 1793750400, "p5": "US", "p6": "CA", "p7": "tv", "p8": 1001, "p9": 1793577600}
