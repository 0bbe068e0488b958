SELECT `cdn` AS `cdn`, toUnixTimestamp(`bucket`) AS `timestamp`, sum(`rollup_1m`.`plays`) AS `viewercount`, 100.0 * (sum(`rollup_1m`.`rebuffer_ms`) / (sum(`rollup_1m`.`play_ms`) + sum(`rollup_1m`.`rebuffer_ms`))) AS `bufferingratio`
FROM `rollup_1m`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime({p1:Int64}) AND `bucket` < toDateTime({p2:Int64})
GROUP BY `cdn`, `timestamp`
ORDER BY `timestamp` ASC, `cdn` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793584800}
