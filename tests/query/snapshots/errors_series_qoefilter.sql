SELECT `timestamp` AS `timestamp`, `errors` AS `errors`, count() OVER () AS `totalrecords`
FROM (SELECT toStartOfHour(toDateTime(`ts`), 'UTC') AS `timestamp`, count() AS `errors`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p3:UInt32} AND `view_start` >= toDateTime64({p4:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p5:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING isFinite(100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`)))) AND 100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`))) > {p6:Float64})
GROUP BY toStartOfHour(toDateTime(`ts`), 'UTC')) AS `l`
FULL OUTER JOIN (SELECT `timestamp` AS `timestamp`, sum(`part_attempts`) AS `attempts`
FROM (SELECT toStartOfHour(toDateTime(UUIDv7ToDateTime(`view_id`)), 'UTC') AS `timestamp`, sumIf(toUInt64(1), `event` = 'play_request') AS `part_attempts`
FROM `events`
WHERE `customer_id` = {p7:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p8:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p9:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p10:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p11:Int64}, 3, 'UTC')) AND `view_id` IN (SELECT `view_id` AS `view_id`
FROM `views`
WHERE `customer_id` = {p12:UInt32} AND `view_start` >= toDateTime64({p13:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p14:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING isFinite(100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`)))) AND 100.0 * (sum(`rebuffer_ms`) / (sum(`play_ms`) + sum(`rebuffer_ms`))) > {p15:Float64})
GROUP BY toStartOfHour(toDateTime(UUIDv7ToDateTime(`view_id`)), 'UTC'))
GROUP BY `timestamp`) AS `r` USING (`timestamp`)
ORDER BY `errors` DESC, `timestamp` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p10": 1793577600, "p11": 1793750400, "p12": 1001, "p13": 1793491200, "p14": 1793664000, "p15": 5.0, "p2": 1793664000, "p3": 1001, "p4": 1793491200, "p5": 1793664000, "p6": 5.0, "p7": 1001, "p8": 1793577600, "p9": 1793664000}
