SELECT `errorcode` AS `errorcode`, `errors` AS `errors`, count() OVER () AS `totalrecords`
FROM (SELECT `error_code` AS `errorcode`, count() AS `errors`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8}
GROUP BY `error_code`) AS `l` CROSS JOIN (SELECT sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p4:UInt32} AND `bucket` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p6:Int64}, 3, 'UTC')) AS `r`
ORDER BY `errors` DESC, `errorcode` ASC
LIMIT 50 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": 1001, "p5": 1793577600, "p6": 1793664000}

SELECT `timestamp` AS `timestamp`, `errors` AS `errors`, `attempts` AS `attempts`
FROM (SELECT toStartOfHour(toDateTime(`ts`), 'UTC') AS `timestamp`, count() AS `errors`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8}
GROUP BY toStartOfHour(toDateTime(`ts`), 'UTC')) AS `l`
FULL OUTER JOIN (SELECT `bucket` AS `timestamp`, sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p4:UInt32} AND `bucket` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p6:Int64}, 3, 'UTC')
GROUP BY `timestamp`) AS `r` USING (`timestamp`)
ORDER BY `timestamp` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": 1001, "p5": 1793577600, "p6": 1793664000}

SELECT `errorcode` AS `errorcode`, `timestamp` AS `timestamp`, `errors` AS `errors`
FROM (SELECT `error_code` AS `errorcode`, toStartOfHour(toDateTime(`ts`), 'UTC') AS `timestamp`, count() AS `errors`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8} AND `error_code` IN ({p4:String}, {p5:String})
GROUP BY `error_code`, toStartOfHour(toDateTime(`ts`), 'UTC')) AS `l`
LEFT OUTER JOIN (SELECT `bucket` AS `timestamp`, sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p6:UInt32} AND `bucket` >= toDateTime64({p7:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p8:Int64}, 3, 'UTC')
GROUP BY `timestamp`) AS `r` USING (`timestamp`)
ORDER BY `errors` DESC, `errorcode` ASC, `timestamp` ASC
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": "HTTP_404", "p5": "DRM_LICENSE_FAILED", "p6": 1001, "p7": 1793577600, "p8": 1793664000}
