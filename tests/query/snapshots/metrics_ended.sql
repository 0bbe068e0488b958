SELECT sum(`part_plays`) AS `viewercount`, sum(`part_play_ms`) / 60000.0 AS `playdur`, count() OVER () AS `totalrecords`
FROM (SELECT sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`, sumIf(toUInt64(`play_ms`), 1) AS `part_play_ms`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p3:Int64}, 3, 'UTC') AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p4:UInt32} AND `view_start` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p6:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING max(`last_ts`) >= toDateTime64({p7:Int64}, 3, 'UTC') AND max(`last_ts`) < toDateTime64({p8:Int64}, 3, 'UTC') AND greatest(max(`vsf`), max(`ebvs`), max(`vpf`), max(`completed`), max(`exited`)) = 1.0))
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793491200, "p2": 1793664000, "p3": 1793664000, "p4": 1001, "p5": 1793491200, "p6": 1793664000, "p7": 1793577600, "p8": 1793664000}
