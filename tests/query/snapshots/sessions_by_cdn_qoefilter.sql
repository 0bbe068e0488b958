SELECT `v_cdn` AS `cdn`, 100.0 * (sum(`v_rebuffer_ms`) / (sum(`v_play_ms`) + sum(`v_rebuffer_ms`))) AS `bufferingratio`, (sum(`v_play_ms`) + sum(`v_rebuffer_ms`)) / 60000.0 AS `watchtime`, count() OVER () AS `totalrecords`
FROM (SELECT `view_id` AS `v_sessionid`, min(`view_start`) AS `v_starttime`, max(`last_ts`) AS `v_endtime`, max(`cdn`) AS `v_cdn`, sum(`play_ms`) AS `v_play_ms`, sum(`rebuffer_ms`) AS `v_rebuffer_ms`
FROM `views`
WHERE `customer_id` = {p0:UInt32} AND `view_start` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p2:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING multiIf(max(`vsf`) = {p4:UInt8}, {p5:String}, max(`vpf`) = {p6:UInt8}, {p7:String}, max(`ebvs`) = {p8:UInt8}, {p9:String}, max(`completed`) = {p10:UInt8}, {p11:String}, max(`exited`) = {p12:UInt8}, {p13:String}, max(`started`) = {p14:UInt8}, {p15:String}, {p16:String}) IN ({p3:String}) AND (isFinite(max(`startup_ms`) / max(`started`) / 1000.0) AND max(`startup_ms`) / max(`started`) / 1000.0 > {p17:Float64}))
GROUP BY `v_cdn`
ORDER BY isFinite(toFloat64(`bufferingratio`)) DESC, `bufferingratio` DESC, `v_cdn` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793577600, "p10": 1, "p11": "completed", "p12": 1, "p13": "exited", "p14": 1, "p15": "playing", "p16": "starting", "p17": 2.0, "p2": 1793664000, "p3": "ended", "p4": 1, "p5": "startfailed", "p6": 1, "p7": "playbackfailed", "p8": 1, "p9": "exitedbeforestart"}
