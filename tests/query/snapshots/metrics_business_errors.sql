SELECT `country` AS `country`, 100.0 * (sum(`rollup_1h_delivery`.`vsf_views`) / sum(`rollup_1h_delivery`.`attempts`)) AS `vsf`, 100.0 * (sum(`rollup_1h_delivery`.`vpf_views`) / sum(`rollup_1h_delivery`.`plays`)) AS `vpf`, 100.0 * ((sum(`rollup_1h_delivery`.`vsf_views`) - sum(`rollup_1h_delivery`.`vsf_business_views`)) / sum(`rollup_1h_delivery`.`attempts`)) AS `failurerate`
FROM `rollup_1h_delivery`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `country`
ORDER BY isFinite(toFloat64(`vpf`)) DESC, `vpf` ASC, `country` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000}
