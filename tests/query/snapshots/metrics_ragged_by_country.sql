SELECT `country` AS `country`, sum(`part_plays`) AS `viewercount`, sum(`part_play_ms`) / 60000.0 AS `playdur`, uniqMerge(`part_viewers`) AS `uniqueviewercount`, count() OVER () AS `totalrecords`
FROM (SELECT `country` AS `country`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`, uniqStateIf(`viewerid`, `event` = 'first_frame') AS `part_viewers`, sumIf(toUInt64(`play_ms`), 0) AS `part_play_ms`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p4:Int64}, 3, 'UTC'))
GROUP BY `country`
UNION ALL SELECT `country` AS `country`, sumIf(toUInt64(1), 0) AS `part_plays`, uniqStateIf(`viewerid`, 0) AS `part_viewers`, sumIf(toUInt64(`play_ms`), 1) AS `part_play_ms`
FROM `events`
WHERE `customer_id` = {p5:UInt32} AND `ts` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p7:Int64}, 3, 'UTC')
GROUP BY `country`
UNION ALL SELECT `country` AS `country`, sum(`plays`) AS `part_plays`, uniqMergeState(`viewers`) AS `part_viewers`, sum(`play_ms`) AS `part_play_ms`
FROM `rollup_1h_delivery`
WHERE `customer_id` = {p8:UInt32} AND `bucket` >= toDateTime64({p9:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p10:Int64}, 3, 'UTC')
GROUP BY `country`
UNION ALL SELECT `country` AS `country`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`, uniqStateIf(`viewerid`, `event` = 'first_frame') AS `part_viewers`, sumIf(toUInt64(`play_ms`), 0) AS `part_play_ms`
FROM `events`
WHERE `customer_id` = {p11:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p12:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p13:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p14:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p15:Int64}, 3, 'UTC'))
GROUP BY `country`
UNION ALL SELECT `country` AS `country`, sumIf(toUInt64(1), 0) AS `part_plays`, uniqStateIf(`viewerid`, 0) AS `part_viewers`, sumIf(toUInt64(`play_ms`), 1) AS `part_play_ms`
FROM `events`
WHERE `customer_id` = {p16:UInt32} AND `ts` >= toDateTime64({p17:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p18:Int64}, 3, 'UTC')
GROUP BY `country`)
GROUP BY `country`
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC, `country` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793579400, "p10": 1793588400, "p11": 1001, "p12": 1793588400, "p13": 1793589600, "p14": 1793588400, "p15": 1793676000, "p16": 1001, "p17": 1793588400, "p18": 1793589600, "p2": 1793581200, "p3": 1793579400, "p4": 1793667600, "p5": 1001, "p6": 1793579400, "p7": 1793581200, "p8": 1001, "p9": 1793581200}
