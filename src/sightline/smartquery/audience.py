"""`newvsreturning`: per time bucket, the viewers who played for the first time and those who came back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sightline.query.ast import Aliased, OrderBy, Select, Window
from sightline.query.compile import moment
from sightline.smartquery.spec import ResultColumn, SmartQuery
from sightline.smartquery.sql import (
    and_,
    bucket,
    col,
    f,
    i,
    named,
    num,
    op,
    ratio,
    same,
)
from sightline.smartquery.views import STARTED, VIEW_START, hash_of, view_rows

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
    in_period = op(">=", VIEW_START, moment(query.period.start))
    per_bucket = replace(  # a viewer's plays in a bucket; lookback buckets have none but tell when they began
        view_rows(
            query,
            named(
                viewer=hash_of("viewerid"),
                play_bucket=bucket(VIEW_START, query.granularity),
                plays=f("countIf", in_period),
                play=f("sumIf", col("play_ms"), in_period),
                first_in=f("min", VIEW_START),
            ),
            since=query.since(LOOKBACK),
            where=(STARTED, op("!=", hash_of("viewerid"), i(0))),
        ),
        group_by=(col("viewer"), col("play_bucket")),
    )
    first_seen = Select(
        (
            *same("play_bucket", "plays", "play"),
            Aliased(Window(f("min", col("first_in")), (col("viewer"),)), "first_seen"),
        ),
        per_bucket,
    )
    new = and_(
        op(">=", col("first_seen"), moment(query.period.start)),
        op("=", bucket(col("first_seen"), query.granularity), col("play_bucket")),
    )
    per_viewer_bucket = Select(
        (*same("play_bucket", "plays", "play"), Aliased(new, "new")),
        first_seen,
        where=op(">", col("plays"), i(0)),
    )
    new, returning = col("new"), f("not", col("new"))
    minutes = num(60_000.0)
    return Select(
        (
            *named(
                timestamp=col("play_bucket"),
                uniqueviewercount=f("count"),
                newviewers=f("countIf", new),
                returningviewers=f("countIf", returning),
                newshare=ratio(f("countIf", new), f("count"), 100.0),
                viewercount=f("sum", col("plays")),
                newplays=f("sumIf", col("plays"), new),
                returningplays=f("sumIf", col("plays"), returning),
                playdur=op("/", f("sum", col("play")), minutes),
                newplaydur=op("/", f("sumIf", col("play"), new), minutes),
                returningplaydur=op("/", f("sumIf", col("play"), returning), minutes),
            ),
        ),
        per_viewer_bucket,
        group_by=(col("play_bucket"),),
        order_by=(OrderBy(col("play_bucket"), "ASC"),),
    )
