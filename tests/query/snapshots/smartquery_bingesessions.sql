SELECT arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`series`), cityHash64(`series`), toUInt64(0)) AS `key_hash`, any(`series`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p0:UInt32} AND `bucket` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p2:Int64}, 3, 'UTC') AND notEmpty(`series`)
GROUP BY if(notEmpty(`series`), cityHash64(`series`), toUInt64(0)))), `run_series`) AS `series`, countIf(`episodes` >= 3) AS `bingesessions`, uniqExactIf(`viewer`, `episodes` >= 3) AS `bingers`, countIf(`first_in_session`) AS `seriessessions`, 100.0 * (countIf(`episodes` >= 3) / countIf(`first_in_session`)) AS `bingerate`, sumIf(`episodes`, `episodes` >= 3) / countIf(`episodes` >= 3) AS `avgepisodes`, maxIf(`episodes`, `episodes` >= 3) AS `maxepisodes`, sumIf(`run_play`, `episodes` >= 3) / countIf(`episodes` >= 3) / 60000.0 AS `avgbingeminutes`, sum(`run_play`) / 60000.0 AS `playdur`, 100.0 * (sumIf(`run_play`, `episodes` >= 3) / sum(`run_play`)) AS `bingeplayshare`, count() OVER () AS `totalrecords`
FROM (SELECT `viewer` AS `viewer`, tupleElement(`run_first`, 2) AS `first_in_session`, tupleElement(arrayElement(tupleElement(`run_first`, 1), 1), 4) AS `run_series`, toUInt64(arrayUniq(arrayMap((`v`) -> tupleElement(`v`, 3), tupleElement(`run_first`, 1)))) AS `episodes`, arraySum(arrayMap((`v`) -> tupleElement(`v`, 5), tupleElement(`run_first`, 1))) AS `run_play`
FROM (SELECT `viewer` AS `viewer`, arrayJoin(arrayZip(`runs`, arrayMap((`s`, `k`) -> indexOf(`run_series`, `s`) = `k`, `run_series`, arrayEnumerate(`run_series`)))) AS `run_first`
FROM (SELECT `viewer` AS `viewer`, `runs` AS `runs`, arrayMap((`r`) -> tupleElement(arrayElement(`r`, 1), 4), `runs`) AS `run_series`
FROM (SELECT `viewer` AS `viewer`, arraySplit((`v`, `cut`) -> `cut`, `session`, arrayMap((`v`, `k`) -> `k` > 1 AND tupleElement(`v`, 4) != tupleElement(arrayElement(`session`, `k` - 1), 4), `session`, arrayEnumerate(`session`))) AS `runs`
FROM (SELECT `viewer` AS `viewer`, arrayJoin(arraySplit((`v`, `cut`) -> `cut`, `viewlist`, arrayMap((`v`, `k`) -> `k` > 1 AND tupleElement(`v`, 1) - tupleElement(arrayElement(`viewlist`, `k` - 1), 2) > 1800000, `viewlist`, arrayEnumerate(`viewlist`)))) AS `session`
FROM (SELECT `viewer` AS `viewer`, arraySort(arrayZip(`all_start_ms`, `all_end_ms`, `all_title`, `all_series`, `all_play`)) AS `viewlist`
FROM (SELECT `viewer` AS `viewer`, groupArray(`start_ms`) AS `all_start_ms`, groupArray(`end_ms`) AS `all_end_ms`, groupArray(`title`) AS `all_title`, groupArray(`series`) AS `all_series`, groupArray(`play`) AS `all_play`
FROM (SELECT `viewer_hash` AS `viewer`, toUnixTimestamp64Milli(`view_start`) AS `start_ms`, toUnixTimestamp64Milli(`last_ts`) AS `end_ms`, `title_hash` AS `title`, toDate(`view_start`) AS `day`, `series_hash` AS `series`, `play_ms` AS `play`
FROM `views` FINAL
WHERE `customer_id` = {p3:UInt32} AND `view_start` >= toDateTime64({p4:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p5:Int64}, 3, 'UTC') AND `started` = 1 AND `viewer_hash` != 0 AND `title_hash` != 0)
GROUP BY `viewer`, `day`))))))
WHERE tupleElement(arrayElement(tupleElement(`run_first`, 1), 1), 4) != 0)
GROUP BY `run_series`
ORDER BY `bingesessions` DESC, `series` ASC
LIMIT 50 OFFSET 0
-- params: {"p0": 1001, "p1": 1793059200, "p2": 1793664000, "p3": 1001, "p4": 1793059200, "p5": 1793664000}
