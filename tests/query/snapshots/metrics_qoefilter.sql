SELECT `cdn` AS `cdn`, sum(`part_plays`) AS `viewercount`, 100.0 * (sum(`part_rebuffer_ms`) / (sum(`part_play_ms`) + sum(`part_rebuffer_ms`))) AS `bufferingratio`, count() OVER () AS `totalrecords`
FROM (SELECT `cdn` AS `cdn`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`, sumIf(toUInt64(`play_ms`), 0) AS `part_play_ms`, sumIf(toUInt64(`rebuffer_ms`), 0) AS `part_rebuffer_ms`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p4:Int64}, 3, 'UTC')) AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p5:UInt32} AND `view_start` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p7:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING isFinite(max(`startup_ms`) / max(`started`) / 1000.0) AND max(`startup_ms`) / max(`started`) / 1000.0 > {p8:Float64} AND (isFinite(100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`)))) AND 100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`))) > {p9:Float64}))
GROUP BY `cdn`
UNION ALL SELECT `cdn` AS `cdn`, sumIf(toUInt64(1), 0) AS `part_plays`, sumIf(toUInt64(`play_ms`), 1) AS `part_play_ms`, sumIf(toUInt64(`rebuffer_ms`), 1) AS `part_rebuffer_ms`
FROM `events`
WHERE `customer_id` = {p10:UInt32} AND `ts` >= toDateTime64({p11:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p12:Int64}, 3, 'UTC') AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p13:UInt32} AND `view_start` >= toDateTime64({p14:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p15:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING isFinite(max(`startup_ms`) / max(`started`) / 1000.0) AND max(`startup_ms`) / max(`started`) / 1000.0 > {p16:Float64} AND (isFinite(100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`)))) AND 100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`))) > {p17:Float64}))
GROUP BY `cdn`)
GROUP BY `cdn`
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC, `cdn` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p10": 1001, "p11": 1793577600, "p12": 1793664000, "p13": 1001, "p14": 1793491200, "p15": 1793664000, "p16": 3.0, "p17": 5.0, "p2": 1793664000, "p3": 1793577600, "p4": 1793750400, "p5": 1001, "p6": 1793491200, "p7": 1793664000, "p8": 3.0, "p9": 5.0}
