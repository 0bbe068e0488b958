SELECT `cdn` AS `cdn`, toUnixTimestamp(`bucket`) AS `timestamp`, sum(`rollup_1m`.`plays`) AS `viewercount`, 100.0 * (sum(`rollup_1m`.`rebuffer_ms`) / (sum(`rollup_1m`.`play_ms`) + sum(`rollup_1m`.`rebuffer_ms`))) AS `bufferingratio`
FROM `rollup_1m`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `cdn`, `timestamp`
ORDER BY `timestamp` ASC, `cdn` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793584800}
