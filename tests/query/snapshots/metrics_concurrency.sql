SELECT sum(`part_plays`) AS `viewercount`, sum(`part_attempts`) AS `attempts`, count() OVER () AS `totalrecords`
FROM (SELECT sumIf(toUInt64(1), `event` = 'play_request') AS `part_attempts`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND `ts` >= toDateTime64({p1:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p2:Int64}, 3, 'UTC'))
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC
LIMIT 1000 OFFSET 0
-- params: {"p0": 1001, "p1": 1793579400, "p2": 1793589600}
