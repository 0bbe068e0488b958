SELECT `errorcode` AS `errorcode`, `errormessage` AS `errormessage`, `errors` AS `errors`, `fatalerrors` AS `fatalerrors`, `affectedviews` AS `affectedviews`, 100.0 * `affectedviews` / nullIf(toFloat64(`attempts`), 0.0) AS `errorrate`, count() OVER () AS `totalrecords`
FROM (SELECT `error_code` AS `errorcode`, `error_message` AS `errormessage`, count() AS `errors`, sum(`fatal`) AS `fatalerrors`, uniqExact(`view_id`) AS `affectedviews`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8}
GROUP BY `error_code`, `error_message`) AS `l` CROSS JOIN (SELECT sum(`rollup_1h`.`attempts`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p4:UInt32} AND `bucket` >= toDateTime64({p5:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p6:Int64}, 3, 'UTC')) AS `r`
ORDER BY `errors` DESC, `errorcode` ASC, `errormessage` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": 1001, "p5": 1793577600, "p6": 1793664000}
