SELECT `assetname` AS `assetname`, sum(`part_plays`) AS `viewercount`, count() OVER () AS `totalrecords`
FROM (SELECT `assetname` AS `assetname`, sumIf(toUInt64(1), `event` = 'first_frame') AS `part_plays`
FROM `events`
WHERE `customer_id` = {p0:UInt32} AND UUIDv7ToDateTime(`view_id`) >= toDateTime64({p1:Int64}, 3, 'UTC') AND UUIDv7ToDateTime(`view_id`) < toDateTime64({p2:Int64}, 3, 'UTC') AND (`ts` >= toDateTime64({p3:Int64}, 3, 'UTC') AND `ts` < toDateTime64({p4:Int64}, 3, 'UTC')) AND `isp` IN ({p5:String})
GROUP BY `assetname`)
GROUP BY `assetname`
ORDER BY isFinite(toFloat64(`viewercount`)) DESC, `viewercount` DESC, `assetname` ASC
LIMIT 20 OFFSET 40
-- params: {"p0": 1001, "p1": 1793579400, "p2": 1793589600, "p3": 1793579400, "p4": 1793676000, "p5": "Comcast"}
