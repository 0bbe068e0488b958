SELECT toUnixTimestamp(`bucket`) AS `timestamp`, sum(`rollup_1h`.`ad_requests`) AS `adrequests`, 100.0 * (sum(`rollup_1h`.`ad_impressions`) / sum(`rollup_1h`.`ad_requests`)) AS `adfillrate`, sum(`rollup_1h`.`ad_errors`) AS `aderrors`
FROM `rollup_1h`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `timestamp`
ORDER BY `timestamp` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000}
