SELECT `cdn` AS `cdn`, sum(`part_attempts`) AS `attempts`, 100.0 * ((sum(`part_vsf_views`) - sum(`part_vsf_business_views`)) / sum(`part_attempts`)) AS `vsf`, count() OVER () AS `totalrecords`
FROM (SELECT `cdn` AS `cdn`, sumIf(toUInt64(1), `event` = 'play_request') AS `part_attempts`, sumIf(toUInt64(1), `event` = 'error' AND `fatal` = 1 AND `started` = 0) AS `part_vsf_views`, sumIf(toUInt64(1), `event` = 'error' AND `fatal` = 1 AND `started` = 0 AND `business_error` = 1) AS `part_vsf_business_views`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p4:Int64}, 3, 'UTC')) AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p5:UInt32} AND `view_start` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p7:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING greatest(max(`vsf`), max(`ebvs`), max(`vpf`), max(`completed`), max(`exited`)) = 1.0)
GROUP BY `cdn`)
GROUP BY `cdn`
ORDER BY isFinite(toFloat64(`attempts`)) DESC, `attempts` DESC, `cdn` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 1793577600, "p4": 1793750400, "p5": 1001, "p6": 1793491200, "p7": 1793664000}
