SELECT `errorcode` AS `errorcode`, `errors` AS `errors`, 100.0 * `affectedviews` / nullIf(toFloat64(`attempts`), 0.0) AS `errorrate`, count() OVER () AS `totalrecords`
FROM (SELECT `error_code` AS `errorcode`, count() AS `errors`, uniqExact(`view_id`) AS `affectedviews`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8}
GROUP BY `error_code`) AS `l` CROSS JOIN (SELECT sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p4:UInt32} AND `bucket` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p6:Int64}, 3, 'UTC')) AS `r`
ORDER BY `errors` DESC, `errorcode` ASC
LIMIT 50 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": 1001, "p5": 1793577600, "p6": 1793664000}

SELECT `cdn` AS `cdn`, `errors` AS `errors`, 100.0 * `affectedviews` / nullIf(toFloat64(`attempts`), 0.0) AS `errorrate`, `attempts` AS `attempts`, count() OVER () AS `totalrecords`
FROM (SELECT `cdn` AS `cdn`, count() AS `errors`, uniqExact(`view_id`) AS `affectedviews`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8}
GROUP BY `cdn`) AS `l`
FULL OUTER JOIN (SELECT `cdn` AS `cdn`, sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p4:UInt32} AND `bucket` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p6:Int64}, 3, 'UTC')
GROUP BY `cdn`) AS `r` USING (`cdn`)
ORDER BY `errors` DESC, `cdn` ASC
LIMIT 5 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": 1001, "p5": 1793577600, "p6": 1793664000}

SELECT `errorcode` AS `errorcode`, `cdn` AS `cdn`, `errors` AS `errors`, 100.0 * `affectedviews` / nullIf(toFloat64(`attempts`), 0.0) AS `errorrate`
FROM (SELECT `error_code` AS `errorcode`, `cdn` AS `cdn`, count() AS `errors`, uniqExact(`view_id`) AS `affectedviews`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8} AND `cdn` IN ({p4:String}, {p5:String}) AND `error_code` IN ({p6:String}, {p7:String})
GROUP BY `error_code`, `cdn`) AS `l`
LEFT OUTER JOIN (SELECT `cdn` AS `cdn`, sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p8:UInt32} AND `bucket` >= toDateTime64({p9:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p10:Int64}, 3, 'UTC') AND `cdn` IN ({p11:String}, {p12:String})
GROUP BY `cdn`) AS `r` USING (`cdn`)
ORDER BY `errors` DESC, `errorcode` ASC, `cdn` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p10": 1793664000, "p11": "Akamai", "p12": "Fastly", "p2": 1793664000, "p3": 0, "p4": "Akamai", "p5": "Fastly", "p6": "HTTP_404", "p7": "DRM_LICENSE_FAILED", "p8": 1001, "p9": 1793577600}
