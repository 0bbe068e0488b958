SELECT `kind` AS `kind`, `pathlength` AS `pathlength`, arrayMap((`h`) -> if(`h` = 0, {p0:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, any(`assetid`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p1:UInt32} AND `bucket` >= toDateTime64({p2:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p3:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `h`)), arrayPushBack(arrayFilter((`h`) -> `h` != 0, array(`p1`, `p2`, `p3`, `p4`)), `after`)) AS `assetids`, arrayMap((`h`) -> if(`h` = 0, {p4:String}, arrayElement((SELECT mapFromArrays(groupArray(`key_hash`), groupArray(`key_value`)) AS `names`
FROM (SELECT if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)) AS `key_hash`, max(`assetname`) AS `key_value`
FROM `rollup_1h_content`
WHERE `customer_id` = {p5:UInt32} AND `bucket` >= toDateTime64({p6:Int64}, 3, 'UTC') AND `bucket` < toDateTime64({p7:Int64}, 3, 'UTC') AND notEmpty(`assetid`)
GROUP BY if(notEmpty(`assetid`), cityHash64(`assetid`), toUInt64(0)))), `h`)), arrayPushBack(arrayFilter((`h`) -> `h` != 0, array(`p1`, `p2`, `p3`, `p4`)), `after`)) AS `titles`, `count` AS `count`, `share` AS `share`, `sessionshare` AS `sessionshare`, `totalrecords` AS `totalrecords`
FROM (SELECT multiIf(`item_kind` = 1, 1, tupleElement(`pair`, 1) = 0, 3, 2) AS `rank`, multiIf(`item_kind` = 1, {p8:String}, tupleElement(`pair`, 1) = 0, {p9:String}, {p10:String}) AS `kind`, `p1` AS `p1`, `p2` AS `p2`, `p3` AS `p3`, `p4` AS `p4`, tupleElement(`pair`, 1) AS `after`, toUInt32(tupleElement(`pair`, 1) != 0) + toUInt32(`p1` != 0) + toUInt32(`p2` != 0) + toUInt32(`p3` != 0) + toUInt32(`p4` != 0) AS `pathlength`, tupleElement(`pair`, 2) AS `count`, tupleElement(`pair`, 2) / `parent_count` AS `share`, if(`item_kind` = 1, tupleElement(`pair`, 2) / sum(if(`item_kind` = 1 AND `p2` = 0, tupleElement(`pair`, 2), 0)) OVER (), NULL) AS `sessionshare`, count() OVER () AS `totalrecords`
FROM (SELECT `item_kind` AS `item_kind`, `p1` AS `p1`, `p2` AS `p2`, `p3` AS `p3`, `p4` AS `p4`, `parent_count` AS `parent_count`, arrayJoin(`nexts`) AS `pair`
FROM (SELECT any(`e_kind`) AS `item_kind`, any(`e_p1`) AS `p1`, any(`e_p2`) AS `p2`, any(`e_p3`) AS `p3`, any(`e_p4`) AS `p4`, sum(`n`) AS `parent_count`, arrayZip(groupArray(`e_next`), groupArray(`n`)) AS `nexts`
FROM (SELECT `entry_hash` AS `entry_hash`, any(`e_kind`) AS `e_kind`, any(`e_p1`) AS `e_p1`, any(`e_p2`) AS `e_p2`, any(`e_p3`) AS `e_p3`, any(`e_p4`) AS `e_p4`, any(`e_next`) AS `e_next`, sum(`n`) AS `n`
FROM (SELECT cityHash64(`entry`) AS `entry_hash`, tupleElement(`entry`, 1) AS `e_kind`, tupleElement(`entry`, 2) AS `e_p1`, tupleElement(`entry`, 3) AS `e_p2`, tupleElement(`entry`, 4) AS `e_p3`, tupleElement(`entry`, 5) AS `e_p4`, tupleElement(`entry`, 6) AS `e_next`, `weight` AS `n`
FROM (SELECT arrayJoin(arrayConcat(arrayMap((`k`) -> tuple(1, if(`k` > 1, arrayElement(`titles`, 1), toUInt64(0)), if(`k` > 2, arrayElement(`titles`, 2), toUInt64(0)), if(`k` > 3, arrayElement(`titles`, 3), toUInt64(0)), if(`k` > 4, arrayElement(`titles`, 4), toUInt64(0)), if(`k` > length(`titles`), toUInt64(0), arrayElement(`titles`, `k`))), range(2, least(length(`titles`) + 1, 5) + 1)), arrayMap((`k`) -> tuple(2, arrayElement(`titles`, `k`), toUInt64(0), toUInt64(0), toUInt64(0), if(`k` = length(`titles`), toUInt64(0), arrayElement(`titles`, `k` + 1))), arrayEnumerate(`titles`)))) AS `entry`, `weight` AS `weight`
FROM (SELECT `session_titles` AS `titles`, count() AS `weight`
FROM (SELECT arrayFilter((`t`, `k`) -> `k` = 1 OR `t` != arrayElement(arrayMap((`v`) -> tupleElement(`v`, 3), `session`), `k` - 1), arrayMap((`v`) -> tupleElement(`v`, 3), `session`), arrayEnumerate(arrayMap((`v`) -> tupleElement(`v`, 3), `session`))) AS `session_titles`
FROM (SELECT `viewer` AS `viewer`, arrayJoin(arraySplit((`v`, `cut`) -> `cut`, `viewlist`, arrayMap((`v`, `k`) -> `k` > 1 AND tupleElement(`v`, 1) - tupleElement(arrayElement(`viewlist`, `k` - 1), 2) > 1800000, `viewlist`, arrayEnumerate(`viewlist`)))) AS `session`
FROM (SELECT `viewer` AS `viewer`, arraySort(arrayZip(`all_start_ms`, `all_end_ms`, `all_title`)) AS `viewlist`
FROM (SELECT `viewer` AS `viewer`, groupArray(`start_ms`) AS `all_start_ms`, groupArray(`end_ms`) AS `all_end_ms`, groupArray(`title`) AS `all_title`
FROM (SELECT `viewer_hash` AS `viewer`, toUnixTimestamp64Milli(`view_start`) AS `start_ms`, toUnixTimestamp64Milli(`last_ts`) AS `end_ms`, `title_hash` AS `title`, toDate(`view_start`) AS `day`
FROM `views` FINAL
WHERE `customer_id` = {p11:UInt32} AND `view_start` >= toDateTime64({p12:Int64}, 3, 'UTC') AND `view_start` < toDateTime64({p13:Int64}, 3, 'UTC') AND `started` = 1 AND `viewer_hash` != 0 AND `title_hash` != 0)
GROUP BY `viewer`, `day`))))
GROUP BY `session_titles`)))
GROUP BY `entry_hash`)
GROUP BY cityHash64(`e_kind`, `e_p1`, `e_p2`, `e_p3`, `e_p4`)))
ORDER BY `rank` ASC, `count` DESC, `p1` ASC, `p2` ASC, `p3` ASC, `p4` ASC, `after` ASC
LIMIT 50 OFFSET 0)
ORDER BY `rank` ASC, `count` DESC, `p1` ASC, `p2` ASC, `p3` ASC, `p4` ASC, `after` ASC
-- params: {"p0": "(end)", "p1": 1001, "p10": "transition", "p11": 1001, "p12": 1793059200, "p13": 1793664000, "p2": 1793059200, "p3": 1793664000, "p4": "(end)", "p5": 1001, "p6": 1793059200, "p7": 1793664000, "p8": "path", "p9": "exit"}
