SELECT `errorcode` AS `errorcode`, `errormessage` AS `errormessage`, `errors` AS `errors`, 100.0 * `errors` / nullIf(toFloat64(`attempts`), 0.0) AS `errorrate`, count() OVER () AS `totalrecords`
FROM (SELECT `error_code` AS `errorcode`, `error_message` AS `errormessage`, count() AS `errors`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'ad_error'
GROUP BY `error_code`, `error_message`) AS `l` CROSS JOIN (SELECT sum(`rollup_1h`.`ad_requests`) AS `attempts`
FROM `rollup_1h`
WHERE `customer_id` = {p3:UInt32} AND `bucket` >= toDateTime64({p4:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p5:Int64}, 3, 'UTC')) AS `r`
ORDER BY `errors` DESC, `errorcode` ASC, `errormessage` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 1001, "p4": 1793577600, "p5": 1793664000}
