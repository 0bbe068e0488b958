SELECT `cdn` AS `cdn`, `errors` AS `errors`, `affectedviewers` AS `affectedviewers`, count() OVER () AS `totalrecords`
FROM (SELECT `cdn` AS `cdn`, count() AS `errors`, uniqExact(`viewerid`) AS `affectedviewers`
FROM `error_events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC') AND `event` = 'error' AND `business_error` = {p3:UInt8} AND `country` IN ({p4:String}) AND `error_code` IN ({p5:String})
GROUP BY `cdn`) AS `l`
FULL OUTER JOIN (SELECT `cdn` AS `cdn`, sum(`rollup_1h_delivery`.`attempts`) AS `attempts`
FROM `rollup_1h_delivery`
WHERE `customer_id` = {p6:UInt32} AND `bucket` >= toDateTime64({p7:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p8:Int64}, 3, 'UTC') AND `country` IN ({p9:String})
GROUP BY `cdn`) AS `r` USING (`cdn`)
ORDER BY `errors` DESC, `cdn` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p2": 1793664000, "p3": 0, "p4": "US", "p5": "HTTP_404", "p6": 1001, "p7": 1793577600, "p8": 1793664000, "p9": "US"}
