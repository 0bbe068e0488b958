"""`topcontent` and `contentengagement`: which titles are watched, and how far into them viewers get."""

from __future__ import annotations

from dataclasses import replace

from sightline.catalog.metrics import metric
from sightline.query.ast import Expr, OrderBy, Select, Window
from sightline.query.compile import MetricQuery, compile_query
from sightline.query.filters import fields_of
from sightline.query.plan import choose_tables
from sightline.smartquery.spec import ResultColumn, SmartQuery
from sightline.smartquery.sql import col, f, i, named, num, op, ratio, same, text
from sightline.smartquery.views import STARTED, hash_of, name_of, view_rows

TOP_DIMENSIONS = ("assetid", "assetname", "series", "genre", "streamtype")
TOP_METRICS = (
    "viewercount",
    "attempts",
    "uniqueviewercount",
    "playdur",
    "completionrate",
    "latency",
    "bufferingratio",
    "vsf",
)
QUARTILES = (25, 50, 75, 100)


def _metric_column(name: str) -> ResultColumn:
    spec = metric(name)
    return ResultColumn(name, "number", f"{spec.label}: {spec.definition}")


TOP_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("assetid", "string", "The title's asset id."),
    ResultColumn("assetname", "string", "The title's name."),
    ResultColumn("series", "string", "Its series (empty for films and live channels)."),
    ResultColumn("genre", "string", "Its genre."),
    ResultColumn("streamtype", "string", "`vod` or `live`."),
    *(_metric_column(name) for name in TOP_METRICS[:4]),
    ResultColumn("playshare", "number", "The title's share of the play time of all titles, in percent."),
    ResultColumn("avgplayminutes", "number", "Play time per play, in minutes (`playdur` ÷ `viewercount`)."),
    *(_metric_column(name) for name in TOP_METRICS[4:]),
)
TOP_DEFINITIONS: tuple[str, ...] = (
    "Every number is the metric of the same name of `/mm-apis/metricquery` grouped by the title "
    "(`aggby=assetid,assetname,series,genre,streamtype`), over the same period and filter: outcomes count "
    "in the period of the view's start, play time when it is played (docs/metrics.md).",
    "Titles come by play time (`playdur`), largest first.",
)


def build_top(query: SmartQuery) -> Select:
    metrics = MetricQuery(
        customer_id=query.customer_id,
        period=query.period,
        granularity=query.granularity,
        filter=query.filter,
        metrics=tuple(metric(name) for name in TOP_METRICS),
        dimensions=TOP_DIMENSIONS,
    )
    dimensions = frozenset(TOP_DIMENSIONS) | (fields_of(query.filter) if query.filter else frozenset())
    compiled = compile_query(metrics, choose_tables(query.period, dimensions, None))
    per_title = replace(compiled, order_by=())
    playdur = col("playdur")
    columns = named(
        playshare=ratio(playdur, Window(f("sum", playdur)), 100.0),
        avgplayminutes=ratio(playdur, col("viewercount")),
    )
    by_name = {c.alias: c for c in same(*TOP_DIMENSIONS, *TOP_METRICS) + columns}
    return Select(
        tuple(by_name[c.name] for c in TOP_COLUMNS),
        per_title,
        order_by=(OrderBy(playdur, "DESC"), OrderBy(col("assetid"), "ASC")),
    )


ENGAGEMENT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("assetid", "string", "The title's asset id."),
    ResultColumn("assetname", "string", "The title's name."),
    ResultColumn("series", "string", "Its series (empty for films)."),
    ResultColumn("genre", "string", "Its genre."),
    ResultColumn("contentduration", "number", "Its duration in seconds."),
    ResultColumn("viewercount", "number", "Plays: views of the title that rendered a first frame."),
    ResultColumn("uniqueviewercount", "number", "Distinct viewers (`viewerid`) among the plays."),
    ResultColumn("playdur", "number", "Play time of the plays, in minutes."),
    ResultColumn("avgcompletion", "number", "The average play's reach, in percent of the title."),
    *(
        ResultColumn(f"reached{q}", "number", f"Plays that reached {q} % of the title ÷ plays, in percent.")
        for q in QUARTILES
    ),
    ResultColumn("dropoff25", "number", "Plays that stopped before 25 % of the title ÷ plays, in percent."),
)
ENGAGEMENT_DEFINITIONS: tuple[str, ...] = (
    "Titles are the on-demand titles with a known duration (`streamtype` `vod`, `contentduration` > 0); a "
    "play is a view of one that rendered a first frame and started in the period.",
    "A play's reach is its play time ÷ the title's duration, at most 1, and 1 for a play that reached the "
    "end (an `end` event); a play reached quartile q when its reach is at least q ÷ 4. A play resumed "
    "mid-title reaches only as far as it played.",
    "Titles come by plays, most first.",
)


def build_engagement(query: SmartQuery) -> Select:
    duration_ms = op("*", f("toFloat64", col("contentduration")), num(1000.0))
    reach = f(
        "if",
        op("=", col("completed"), i(1)),
        num(1.0),
        f("least", num(1.0), op("/", f("toFloat64", col("play_ms")), duration_ms)),
    )
    plays = view_rows(
        query,
        same("contentduration", "play_ms")
        + named(
            title_hash=hash_of("assetid"),
            viewer=hash_of("viewerid"),
            reach=reach,
            reach_ppb=f("toUInt64", f("round", op("*", reach, num(1e9)))),
        ),
        where=(
            STARTED,
            op("=", col("streamtype"), text("vod")),
            op(">", col("contentduration"), i(0)),
            op("!=", hash_of("assetid"), i(0)),
        ),
    )
    count = f("count")

    def reached(share: float) -> Expr:
        return ratio(f("countIf", op(">=", col("reach"), num(share))), count, 100.0)

    return Select(
        (
            *named(
                **{
                    name: name_of(query, col("title_hash"), name)
                    for name in ("assetid", "assetname", "series", "genre")
                },
                contentduration=f("max", col("contentduration")),
                viewercount=count,
                uniqueviewercount=f("uniqExact", col("viewer")),
                playdur=op("/", f("sum", col("play_ms")), num(60000.0)),
                avgcompletion=ratio(f("sum", col("reach_ppb")), count, 1e-7),
                **{f"reached{q}": reached(q / 100) for q in QUARTILES},
                dropoff25=ratio(f("countIf", op("<", col("reach"), num(0.25))), count, 100.0),
            ),
        ),
        plays,
        group_by=(col("title_hash"),),
        order_by=(OrderBy(col("viewercount"), "DESC"), OrderBy(col("assetid"), "ASC")),
    )
