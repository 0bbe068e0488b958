"""`bingesessions`: per series, the viewing sessions in which viewers watched several of its episodes in a row."""

from __future__ import annotations

from sightline.query.ast import Expr, OrderBy, Select
from sightline.smartquery.spec import ResultColumn, SmartQuery
from sightline.smartquery.sql import at, col, f, i, item, lam, named, num, op, ratio
from sightline.smartquery.views import hash_of, series_of, sessions

MIN_EPISODES = 3

COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("series", "string", "The series."),
    ResultColumn("bingesessions", "number", f"Binges: runs of {MIN_EPISODES} or more of its episodes in a row."),
    ResultColumn("bingers", "number", "Distinct viewers (`viewerid`) who binged it."),
    ResultColumn("seriessessions", "number", "Viewing sessions that played at least one of its episodes."),
    ResultColumn("bingerate", "number", "`bingesessions` ÷ `seriessessions`, in percent."),
    ResultColumn("avgepisodes", "number", "Episodes per binge."),
    ResultColumn("maxepisodes", "number", "Episodes of the longest binge."),
    ResultColumn("avgbingeminutes", "number", "Play time per binge, in minutes."),
    ResultColumn("playdur", "number", "Play time of its episodes in sessions, in minutes."),
    ResultColumn("bingeplayshare", "number", "Play time in binges ÷ `playdur`, in percent."),
)
DEFINITIONS: tuple[str, ...] = (
    "Viewing sessions are those of `contentpaths`. A run is a stretch of a session's views in a row whose "
    "titles all belong to one series; its episodes are its distinct titles, its play time the sum of its "
    "views' play time (retries included).",
    f"A binge is a run of {MIN_EPISODES} or more episodes. Series come by binges, most first.",
)


def build(query: SmartQuery) -> Select:
    session = col("session")
    changes = f(
        "arrayMap",
        lam(
            "v, k",
            op(
                "AND",
                op(">", col("k"), i(1)),
                op("!=", item(col("v"), 4), item(at(session, op("-", col("k"), i(1))), 4)),
            ),
        ),
        session,
        f("arrayEnumerate", session),
    )
    split = Select(
        named(viewer=col("viewer"), runs=f("arraySplit", lam("v, cut", col("cut")), session, changes)),
        sessions(query, named(series=hash_of("series"), play=col("play_ms"))),
    )
    listed = Select(
        named(
            viewer=col("viewer"),
            runs=col("runs"),
            run_series=f("arrayMap", lam("r", item(at(col("r"), i(1)), 4)), col("runs")),
        ),
        split,
    )
    # A session counts once for a series: at the first of its runs of that series.
    first_of_series = f(
        "arrayMap",
        lam("s, k", op("=", f("indexOf", col("run_series"), col("s")), col("k"))),
        col("run_series"),
        f("arrayEnumerate", col("run_series")),
    )
    runs = Select(
        named(viewer=col("viewer"), run_first=f("arrayJoin", f("arrayZip", col("runs"), first_of_series))),
        listed,
    )
    run = item(col("run_first"), 1)
    per_run = Select(
        named(
            viewer=col("viewer"),
            first_in_session=item(col("run_first"), 2),
            run_series=item(at(run, i(1)), 4),
            episodes=f("toUInt64", f("arrayUniq", f("arrayMap", lam("v", item(col("v"), 3)), run))),
            run_play=f("arraySum", f("arrayMap", lam("v", item(col("v"), 5)), run)),
        ),
        runs,
        where=op("!=", item(at(run, i(1)), 4), i(0)),
    )
    binge: Expr = op(">=", col("episodes"), i(MIN_EPISODES))
    minutes = num(60_000.0)
    sessions_of_series = f("countIf", col("first_in_session"))
    return Select(
        (
            *named(
                series=series_of(query, col("run_series")),
                bingesessions=f("countIf", binge),
                bingers=f("uniqExactIf", col("viewer"), binge),
                seriessessions=sessions_of_series,
                bingerate=ratio(f("countIf", binge), sessions_of_series, 100.0),
                avgepisodes=ratio(f("sumIf", col("episodes"), binge), f("countIf", binge)),
                maxepisodes=f("maxIf", col("episodes"), binge),
                avgbingeminutes=op("/", ratio(f("sumIf", col("run_play"), binge), f("countIf", binge)), minutes),
                playdur=op("/", f("sum", col("run_play")), minutes),
                bingeplayshare=ratio(f("sumIf", col("run_play"), binge), f("sum", col("run_play")), 100.0),
            ),
        ),
        per_run,
        group_by=(col("run_series"),),
        order_by=(OrderBy(col("bingesessions"), "DESC"), OrderBy(col("series"), "ASC")),
    )
