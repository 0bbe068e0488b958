SELECT `v_sessionid` AS `sessionid`, `v_starttime` AS `starttime`, `v_endtime` AS `endtime`, `v_status` AS `status`, `v_errorcode` AS `errorcode`, `v_assetname` AS `assetname`, (`v_play_ms` + `v_rebuffer_ms`) / 60000.0 AS `watchtime`, `v_startup_ms` / `v_started` / 1000.0 AS `latency`, 100.0 * (`v_rebuffer_ms` / (`v_play_ms` + `v_rebuffer_ms`)) AS `bufferingratio`, count() OVER () AS `totalrecords`
FROM (SELECT `view_id` AS `v_sessionid`, min(`view_start`) AS `v_starttime`, max(`last_ts`) AS `v_endtime`, multiIf(max(`vsf`) = {p0:UInt8}, {p1:String}, max(`vpf`) = {p2:UInt8}, {p3:String}, max(`ebvs`) = {p4:UInt8}, {p5:String}, max(`completed`) = {p6:UInt8}, {p7:String}, max(`exited`) = {p8:UInt8}, {p9:String}, max(`started`) = {p10:UInt8}, {p11:String}, {p12:String}) AS `v_status`, max(`fatal_error_code`) AS `v_errorcode`, max(`assetname`) AS `v_assetname`, sum(`play_ms`) AS `v_play_ms`, sum(`rebuffer_ms`) AS `v_rebuffer_ms`, max(`started`) AS `v_started`, max(`startup_ms`) AS `v_startup_ms`
FROM `views`
WHERE `customer_id` = {p13:UInt32} AND `view_start` >= toDateTime64({p14:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p15:Int64}, 3, 'UTC')
GROUP BY `view_id`
HAVING greatest(max(`vsf`), max(`ebvs`), max(`vpf`), max(`completed`), max(`exited`)) = 1.0)
ORDER BY `starttime` DESC, `v_sessionid` ASC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1, "p1": "startfailed", "p10": 1, "p11": "playing", "p12": "starting", "p13": 1001, "p14": 1793577600, "p15": 1793664000, "p2": 1, "p3": "playbackfailed", "p4": 1, "p5": "exitedbeforestart", "p6": 1, "p7": "completed", "p8": 1, "p9": "exited"}
