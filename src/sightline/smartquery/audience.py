"""`newvsreturning`: per time bucket, the viewers who played for the first time and those who came back."""

from __future__ import annotations

from datetime import timedelta

from sightline.query.ast import OrderBy, Select
from sightline.smartquery.spec import ResultColumn, SmartQuery
from sightline.smartquery.sql import (
    and_,
    bucket,
    col,
    f,
    item,
    moment,
    named,
    num,
    op,
    ratio,
    total_records,
)
from sightline.smartquery.views import STARTED, VIEW_START, view_rows

LOOKBACK = timedelta(days=28)

COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("timestamp", "time", "Start of the bucket (epoch seconds, UTC)."),
    ResultColumn("uniqueviewercount", "number", "Viewers (`viewerid`) who played in the bucket."),
    ResultColumn("newviewers", "number", "Of them, viewers whose first play is in the bucket."),
    ResultColumn("returningviewers", "number", "Of them, viewers who had played before the bucket."),
    ResultColumn("newshare", "number", "`newviewers` ÷ `uniqueviewercount`, in percent."),
    ResultColumn("viewercount", "number", "Plays in the bucket."),
    ResultColumn("newplays", "number", "Plays of new viewers."),
    ResultColumn("returningplays", "number", "Plays of returning viewers."),
    ResultColumn("playdur", "number", "Play time of the plays, in minutes."),
    ResultColumn("newplaydur", "number", "Play time of new viewers' plays, in minutes."),
    ResultColumn("returningplaydur", "number", "Play time of returning viewers' plays, in minutes."),
)
DEFINITIONS: tuple[str, ...] = (
    "A play is a view that rendered a first frame; it counts, with its whole play time, in the bucket "
    "(`granularity`) of its start.",
    f"A viewer is new in the bucket of their first play in the period when they had not played in the "
    f"{LOOKBACK.days} days before the period; in every later bucket, and in every bucket when they had, they "
    "are returning. So the new viewers of the buckets add up to the period's new viewers, while a returning "
    "viewer counts in each bucket they played in.",
    "Rows come in time order.",
)


def build(query: SmartQuery) -> Select:
    plays = view_rows(
        query,
        named(viewer=f("cityHash64", col("viewerid")), start=VIEW_START, play=col("play_ms")),
        since=query.since(LOOKBACK),
        where=(STARTED, f("notEmpty", col("viewerid"))),
    )
    in_period = op(">=", col("start"), moment(query.period.start))
    per_viewer = Select(
        named(
            viewer=col("viewer"),
            first_seen=f("min", col("start")),
            played=f("groupArrayIf", f("tuple", bucket(col("start"), query.granularity), col("play")), in_period),
        ),
        plays,
        group_by=(col("viewer"),),
        having=f("notEmpty", col("played")),
    )
    first_bucket = bucket(col("first_seen"), query.granularity)
    per_play = Select(
        named(
            viewer=col("viewer"),
            play_bucket=item(col("entry"), 1),
            play=item(col("entry"), 2),
            new=and_(
                op(">=", col("first_seen"), moment(query.period.start)), op("=", col("play_bucket"), first_bucket)
            ),
        ),
        Select(
            named(viewer=col("viewer"), first_seen=col("first_seen"), entry=f("arrayJoin", col("played"))), per_viewer
        ),
    )
    new, returning = col("new"), f("not", col("new"))
    minutes = num(60_000.0)
    return Select(
        (
            *named(
                timestamp=col("play_bucket"),
                uniqueviewercount=f("uniqExact", col("viewer")),
                newviewers=f("uniqExactIf", col("viewer"), new),
                returningviewers=f("uniqExactIf", col("viewer"), returning),
                newshare=ratio(f("uniqExactIf", col("viewer"), new), f("uniqExact", col("viewer")), 100.0),
                viewercount=f("count"),
                newplays=f("countIf", new),
                returningplays=f("countIf", returning),
                playdur=op("/", f("sum", col("play")), minutes),
                newplaydur=op("/", f("sumIf", col("play"), new), minutes),
                returningplaydur=op("/", f("sumIf", col("play"), returning), minutes),
            ),
            total_records(),
        ),
        per_play,
        group_by=(col("play_bucket"),),
        order_by=(OrderBy(col("play_bucket"), "ASC"),),
        limit=query.limit,
        offset=query.offset,
    )
