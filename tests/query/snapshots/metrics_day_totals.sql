SELECT sum(`rollup_1h`.`plays`) AS `viewercount`, sum(`rollup_1h`.`attempts`) AS `attempts`, sum(`rollup_1h`.`play_ms`) / 60000.0 AS `playdur`, 100.0 * ((sum(`rollup_1h`.`vsf_views`) - sum(`rollup_1h`.`vsf_business_views`)) / sum(`rollup_1h`.`attempts`)) AS `vsf`, 100.0 * (sum(`rollup_1h`.`ebvs_views`) / sum(`rollup_1h`.`attempts`)) AS `ebvs`, 100.0 * ((sum(`rollup_1h`.`vpf_views`) - sum(`rollup_1h`.`vpf_business_views`)) / sum(`rollup_1h`.`plays`)) AS `vpf`
FROM `rollup_1h`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000}
