SELECT `device` AS `device`, quantileDDMerge(0.005, 0.5)(`rollup_1h_device`.`startup_ms_sketch`) / 1000.0 AS `median_latency`, quantileDDMerge(0.005, 0.95)(`rollup_1h_device`.`startup_ms_sketch`) / 1000.0 AS `p95_latency`, quantileDDMerge(0.005, 0.99)(`rollup_1h_device`.`startup_ms_sketch`) / 1000.0 AS `p99_latency`
FROM `rollup_1h_device`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `device`
ORDER BY isFinite(toFloat64(`median_latency`)) DESC, `median_latency` DESC, `device` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000}
