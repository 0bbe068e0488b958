SELECT toUnixTimestamp(toStartOfDay(toDateTime(`bucket`), 'UTC')) AS `timestamp`, sum(`rollup_1h`.`plays`) AS `viewercount`, sum(`rollup_1h`.`startup_ms_sum`) / sum(`rollup_1h`.`plays`) / 1000.0 AS `latency`
FROM `rollup_1h`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `timestamp`
ORDER BY `timestamp` ASC
-- params: {"p0": 1001, "p1": 1793059200, "p2": 1793664000}
