SELECT `timestamp` AS `timestamp`, sum(`part_play_ms`) / 3600000.0 AS `concurviewavg`, sum(`part_play_ms`) / 60000.0 AS `playdur`
FROM (SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), ('UTC'))) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1m`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime({p1:Int64}) AND `bucket` < toDateTime({p2:Int64})
UNION ALL SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), ('UTC'))) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1h`
WHERE `customer_id` = {p3:UInt32} AND `bucket` >= toDateTime({p4:Int64}) AND `bucket` < toDateTime({p5:Int64})
UNION ALL SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), ('UTC'))) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1m`
WHERE `customer_id` = {p6:UInt32} AND `bucket` >= toDateTime({p7:Int64}) AND `bucket` < toDateTime({p8:Int64}))
GROUP BY `timestamp`
ORDER BY `timestamp` ASC
-- params: {"p0": 1001, "p1": 1793579400, "p2": 1793581200, "p3": 1001, "p4": 1793581200, "p5": 1793588400, "p6": 1001, "p7": 1793588400, "p8": 1793589600}
