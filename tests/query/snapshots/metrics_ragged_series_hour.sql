SELECT `timestamp` AS `timestamp`, sum(`part_play_ms`) / (1000.0 * (least(toInt64(`timestamp`) + 3600, {p0:Int64}) - greatest(toInt64(`timestamp`), {p1:Int64}))) AS `concurviewavg`, sum(`part_play_ms`) / 60000.0 AS `playdur`
FROM (SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), 'UTC')) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1m`
WHERE `customer_id` = {p2:UInt32} AND `bucket` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p4:Int64}, 3, 'UTC')
UNION ALL SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), 'UTC')) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1h`
WHERE `customer_id` = {p5:UInt32} AND `bucket` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p7:Int64}, 3, 'UTC')
UNION ALL SELECT toUnixTimestamp(toStartOfHour(toDateTime(`bucket`), 'UTC')) AS `timestamp`, `play_ms` AS `part_play_ms`
FROM `rollup_1m`
WHERE `customer_id` = {p8:UInt32} AND `bucket` >= toDateTime64({p9:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p10:Int64}, 3, 'UTC'))
GROUP BY `timestamp`
ORDER BY `timestamp` ASC
-- params: {"p0": 1793589600, "p1": 1793579400, "p10": 1793589600, "p2": 1001, "p3": 1793579400, "p4": 1793581200, "p5": 1001, "p6": 1793581200, "p7": 1793588400, "p8": 1001, "p9": 1793588400}
