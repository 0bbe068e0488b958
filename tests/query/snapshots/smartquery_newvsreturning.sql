SELECT `play_bucket` AS `timestamp`, count() AS `uniqueviewercount`, countIf(`new`) AS `newviewers`, countIf(not(`new`)) AS `returningviewers`, 100.0 * (countIf(`new`) / count()) AS `newshare`, sum(`plays`) AS `viewercount`, sumIf(`plays`, `new`) AS `newplays`, sumIf(`plays`, not(`new`)) AS `returningplays`, sum(`play`) / 60000.0 AS `playdur`, sumIf(`play`, `new`) / 60000.0 AS `newplaydur`, sumIf(`play`, not(`new`)) / 60000.0 AS `returningplaydur`, count() OVER () AS `totalrecords`
FROM (SELECT `play_bucket` AS `play_bucket`, `plays` AS `plays`, `play` AS `play`, `first_seen` >= toDateTime64({p0:Int64}, 3, 'UTC') AND toStartOfHour(toDateTime(`first_seen`), {p1:String}) = `play_bucket` AS `new`
FROM (SELECT `play_bucket` AS `play_bucket`, `plays` AS `plays`, `play` AS `play`, min(`first_in`) OVER (PARTITION BY `viewer`) AS `first_seen`
FROM (SELECT `viewer_hash` AS `viewer`, toStartOfHour(toDateTime(`view_start`), {p2:String}) AS `play_bucket`, countIf(`view_start` >= toDateTime64({p3:Int64}, 3, 'UTC')) AS `plays`, sumIf(`play_ms`, `view_start` >= toDateTime64({p4:Int64}, 3, 'UTC')) AS `play`, min(`view_start`) AS `first_in`
FROM `views` FINAL
WHERE `customer_id` = {p5:UInt32} AND `view_start` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p7:Int64}, 3, 'UTC') AND `started` = 1 AND `viewer_hash` != 0
GROUP BY `viewer`, `play_bucket`))
WHERE `plays` > 0)
GROUP BY `play_bucket`
ORDER BY `play_bucket` ASC
LIMIT 50 OFFSET 0
-- params: {"p0": 1793059200, "p1": "UTC", "p2": "UTC", "p3": 1793059200, "p4": 1793059200, "p5": 1001, "p6": 1790640000, "p7": 1793664000}
