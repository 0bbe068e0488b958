SELECT if(`title_hash` = 0, {p0:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, any(`assetid`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p1:UInt32} AND `bucket` >= toDateTime64({p2:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p3:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `title_hash`)) AS `assetid`, if(`title_hash` = 0, {p4:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, max(`assetname`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p5:UInt32} AND `bucket` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p7:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `title_hash`)) AS `assetname`, if(`title_hash` = 0, {p8:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, max(`series`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p9:UInt32} AND `bucket` >= toDateTime64({p10:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p11:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `title_hash`)) AS `series`, if(`title_hash` = 0, {p12:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, max(`genre`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p13:UInt32} AND `bucket` >= toDateTime64({p14:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p15:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `title_hash`)) AS `genre`, max(`contentduration`) AS `contentduration`, count() AS `viewercount`, uniqExact(`viewer`) AS `uniqueviewercount`, sum(`play_ms`) / 60000.0 AS `playdur`, 1e-07 * (sum(`reach_ppb`) / count()) AS `avgcompletion`, 100.0 * (countIf(`reach` >= 0.25) / count()) AS `reached25`, 100.0 * (countIf(`reach` >= 0.5) / count()) AS `reached50`, 100.0 * (countIf(`reach` >= 0.75) / count()) AS `reached75`, 100.0 * (countIf(`reach` >= 1.0) / count()) AS `reached100`, 100.0 * (countIf(`reach` < 0.25) / count()) AS `dropoff25`, count() OVER () AS `totalrecords`
FROM (SELECT `contentduration` AS `contentduration`, `play_ms` AS `play_ms`, `title_hash` AS `title_hash`, `viewer_hash` AS `viewer`, if(`completed` = 1, 1.0, least(1.0, toFloat64(`play_ms`) / (toFloat64(`contentduration`) * 1000.0))) AS `reach`, toUInt64(round(if(`completed` = 1, 1.0, least(1.0, toFloat64(`play_ms`) / (toFloat64(`contentduration`) * 1000.0))) * 1000000000.0)) AS `reach_ppb`
FROM `views` FINAL
WHERE `customer_id` = {p16:UInt32} AND `view_start` >= toDateTime64({p17:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p18:Int64}, 3, 'UTC') AND `started` = 1 AND `streamtype` = {p19:String} AND `contentduration` > 0 AND `title_hash` != 0)
GROUP BY `title_hash`
ORDER BY `viewercount` DESC, `assetid` ASC
LIMIT 50 OFFSET 0
-- params: {"p0": "", "p1": 1001, "p10": 1793059200, "p11": 1793664000, "p12": "", "p13": 1001, "p14": 1793059200, "p15": 1793664000, "p16": 1001, "p17": 1793059200, "p18": 1793664000, "p19": "vod", "p2": 1793059200, "p3": 1793664000, "p4": "", "p5": 1001, "p6": 1793059200, "p7": 1793664000, "p8": "", "p9": 1001}
