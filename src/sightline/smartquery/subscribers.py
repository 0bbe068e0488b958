"""`subscriberinsight` (one row per subscriber, with its cohort) and `subscribercohorts` (one row per cohort).

Both read the same per-subscriber sums (`_per_subscriber`); a cohort's ratios are computed from its
subscribers' summed parts, never averaged from their ratios. A column named after a catalog metric is that
metric's formula over these sums (`compile.metric_over`), but for `failurerate`, which is not the metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sightline.catalog import ROLLUPS
from sightline.catalog.metrics import metric
from sightline.query.ast import Expr, OrderBy, Param, ScalarSelect, Select, Table, Window
from sightline.query.compile import metric_over, moment
from sightline.query.period import Period
from sightline.query.pipeline import TOTAL_RECORDS
from sightline.smartquery.rows import row_filter
from sightline.smartquery.spec import DayTable, ResultColumn, SmartQuery
from sightline.smartquery.sql import (
    and_,
    at,
    between,
    col,
    f,
    i,
    lam,
    named,
    num,
    op,
    or_,
    ratio,
    same,
    text,
)
from sightline.smartquery.views import (
    VIEW_START,
    Spans,
    hash_of,
    stored_or_computed,
    text_hash,
    view_rows,
    whole_days,
)
from sightline.store.schema import SUBSCRIBER_DAYS_TABLE

LOOKBACK = timedelta(days=28)
POOR_STARTUP_MS = 4000
POOR_REBUFFERING = 0.05
ENGAGED_MINUTES = 60
FALLING_VIEWS = 3
FALLING_SHARE = 4
"""Falling engagement: `FALLING_VIEWS` or more views in the period's first half, and less than 1/`FALLING_SHARE`
of that half's play time in the second half."""
COHORTS = ("atrisk", "new", "engaged", "returning")

COHORT_DEFINITIONS: tuple[str, ...] = (
    "A subscriber is a `subscriberid` (a household's login; views without one are not counted). Its views "
    "are those that started in the period; a play is a view that rendered a first frame.",
    f"A poor view failed (VSF or VPF), or played after a start time of {POOR_STARTUP_MS / 1000:g} s or more, or "
    f"stalled for {POOR_REBUFFERING:.0%} or more of its watch time (play + stall time).",
    "The cohort is the first that applies: `atrisk` — two or more poor views making a quarter or more of its "
    f"views (repeated poor QoE), or {FALLING_VIEWS} or more views in the first half of the period and less than "
    f"1/{FALLING_SHARE} of that half's play time in the second (falling engagement); `new` — no view in the "
    f"{LOOKBACK.days} days before the period; `engaged` — {ENGAGED_MINUTES} or more minutes of play on two or "
    "more days (on one day for a period of one day or less); `returning` — the others.",
)

INSIGHT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("subscriberid", "string", "The subscriber."),
    ResultColumn("subscribertype", "string", "Its subscription type, on its latest view in the period."),
    ResultColumn("cohort", "string", "`atrisk`, `new`, `engaged` or `returning`.", filterable=True),
    ResultColumn("attempts", "number", "Views (play requests)."),
    ResultColumn("viewercount", "number", "Plays."),
    ResultColumn("titles", "number", "Distinct titles played."),
    ResultColumn("playdur", "number", "Play time, in minutes."),
    ResultColumn("daysactive", "number", "Distinct UTC days with a view."),
    ResultColumn("latency", "number", "Average video start time of its plays, in seconds."),
    ResultColumn("bufferingratio", "number", "Stall time ÷ (play + stall time), in percent."),
    ResultColumn("failures", "number", "Views that failed with a fatal error (VSF + VPF)."),
    ResultColumn(
        "failurerate",
        "number",
        "`failures` ÷ `attempts`, in percent: business exceptions count, so this is not the metric `failurerate` "
        "(VSF only, business exceptions left out).",
    ),
    ResultColumn("poorviews", "number", "Poor views (see the definitions)."),
    ResultColumn("devices", "number", "Distinct devices (`viewerid`)."),
    ResultColumn("devicetypes", "list", "Its device classes (`device`), sorted."),
    ResultColumn("engagementtrend", "number", "Play time of the period's second half ÷ its first half's − 1, in %."),
    ResultColumn("firstseen", "time", f"Start of its first view in the period or the {LOOKBACK.days} days before."),
    ResultColumn("lastseen", "time", "Last event of its views in the period (epoch seconds)."),
)
INSIGHT_DEFINITIONS: tuple[str, ...] = (
    *COHORT_DEFINITIONS,
    "Subscribers come by play time, most first (equal play times in a fixed order of their ids' hashes); "
    "`filter=[cohort=atrisk]` keeps one cohort.",
)

COHORT_COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("cohort", "string", "`atrisk`, `new`, `engaged` or `returning`.", filterable=True),
    ResultColumn("subscribers", "number", "Subscribers in the cohort."),
    ResultColumn("share", "number", "Of all subscribers with a view in the period, in percent."),
    ResultColumn("attempts", "number", "Views of its subscribers."),
    ResultColumn("viewercount", "number", "Plays of its subscribers."),
    ResultColumn("playdur", "number", "Play time, in minutes."),
    ResultColumn("playdurpersubscriber", "number", "Play time per subscriber, in minutes."),
    ResultColumn("latency", "number", "Average video start time of its plays, in seconds."),
    ResultColumn("bufferingratio", "number", "Stall time ÷ (play + stall time), in percent."),
    ResultColumn(
        "failurerate",
        "number",
        "Failed views (VSF + VPF, business exceptions included) ÷ views, in percent: not the metric `failurerate`.",
    ),
    ResultColumn("poorviewshare", "number", "Poor views ÷ views, in percent."),
)
COHORT_DEFINITIONS_ALL: tuple[str, ...] = (*COHORT_DEFINITIONS, "Cohorts come in the order above.")


BITMASK_DAYS = 64
"""Up to this many UTC days in the period, a subscriber's active days are counted as the bits of a mask."""


def _days_active(query: SmartQuery, inside: Expr) -> Expr:
    """Distinct UTC `day`s of the rows for which `inside` holds: over a period of at most `BITMASK_DAYS` days,
    the bits set in the OR of one bit per row (its day's offset from the period's first day), which is
    cheaper than a set per subscriber; over a longer period, a set. (The lookback's rows, outside, are
    given offset 0 only so that the shift is defined; `inside` leaves them out.)"""
    period = query.period
    first_day = period.start.date()
    last_day = (period.end - timedelta(microseconds=1)).date()
    if (last_day - first_day).days >= BITMASK_DAYS:
        return f("uniqExactIf", col("day"), inside)
    offset = f("greatest", op("-", col("day"), f("toDate", moment(period.start), text("UTC"))), i(0))  # 0: before
    return f("toUInt64", f("bitCount", f("groupBitOrIf", f("bitShiftLeft", f("toUInt64", i(1)), offset), inside)))


DEVICE_NAMES = next(r for r in ROLLUPS if r.grain == "hour" and "device" in r.dimensions)
"""The hourly rollup that names device classes: a view has a row there, in the hour of its start, from its
play request (or first frame, or end); a class that none of the period's views had there is named ""."""


def _device_names(query: SmartQuery) -> Select:
    """One row, one value: a map from the hash of each device class (`text_hash`, as `views` stores it) of
    the customer's views from the lookback's start to the period's end to its name (`DEVICE_NAMES`)."""
    hour = query.since(LOOKBACK).replace(minute=0, second=0, microsecond=0)
    per_device = Select(
        named(key=text_hash(col("device")), device_name=f("any", col("device"))),
        Table(DEVICE_NAMES.name, query.customer_id),
        where=between(col("bucket"), hour, query.period.end),
        group_by=(text_hash(col("device")),),
    )
    by_hash = f("mapFromArrays", f("groupArray", col("key")), f("groupArray", col("device_name")))
    return Select(named(names=by_hash), per_device)


_DAY_SUMS = ("attempts", "plays", "play_ms", "rebuffer_ms", "startup_ms", "failures", "poorviews")
_DAY_SETS = ("titles", "devices", "device_classes")
_DAY_COLUMNS = (*(f"d_{name}" for name in (*_DAY_SUMS, *_DAY_SETS)), "d_firstseen", "d_lastseen", "d_latest_start_ms")
"""What a subscriber's views of one day (or of one part of a day, `_day_rows`) add up to."""


def _middle(query: SmartQuery) -> datetime:
    return query.period.start + query.period.span / 2


def _day_rows(query: SmartQuery, spans: Spans | None, split: bool) -> Select:
    """Each subscriber's sums (`_DAY_COLUMNS`) per UTC `day` of the views started from the lookback's start to
    the period's end (or in `spans`); with `split`, per part of the day that lies before the period, in its
    first half or in its second half, so that a row's views all lie in one of them (its `d_firstseen`
    says which)."""
    period = query.period
    started = op("=", col("started"), i(1))
    watch = op("+", col("play_ms"), col("rebuffer_ms"))
    poor = or_(
        op("=", col("vsf"), i(1)),
        op("=", col("vpf"), i(1)),
        and_(
            started,
            or_(
                op(">=", col("startup_ms"), i(POOR_STARTUP_MS)),
                and_(op(">", watch, i(0)), op(">=", op("/", col("rebuffer_ms"), watch), num(POOR_REBUFFERING))),
            ),
        ),
    )
    views = view_rows(
        query,
        same("started")
        + named(
            subscriber_key=hash_of("subscriberid"),
            day=f("toDate", VIEW_START),
            viewer=hash_of("viewerid"),
            title=hash_of("assetid"),
            device_class=hash_of("device"),
            view_play=col("play_ms"),
            view_rebuffer=col("rebuffer_ms"),
            start=VIEW_START,
            end=col("last_ts"),
            startup=col("startup_ms"),
            failed=f("toUInt8", or_(op("=", col("vsf"), i(1)), op("=", col("vpf"), i(1)))),
            poor=f("toUInt8", poor),
        ),
        since=query.since(LOOKBACK),
        where=(op("!=", hash_of("subscriberid"), i(0)),),
        spans=spans,
    )
    part = f(
        "multiIf",
        op("<", col("start"), moment(period.start)),
        i(0),
        op("<", col("start"), moment(_middle(query))),
        i(1),
        i(2),
    )
    return Select(
        named(
            subscriber_key=col("subscriber_key"),
            day=col("day"),
            d_attempts=f("count"),
            d_plays=f("countIf", started),
            d_play_ms=f("sum", col("view_play")),
            d_rebuffer_ms=f("sum", col("view_rebuffer")),
            d_startup_ms=f("sumIf", col("startup"), started),
            d_failures=f("countIf", op("=", col("failed"), i(1))),
            d_poorviews=f("countIf", op("=", col("poor"), i(1))),
            d_titles=f("groupUniqArrayIf", col("title"), started),
            d_devices=f("groupUniqArray", col("viewer")),
            d_device_classes=f("groupUniqArray", col("device_class")),
            d_firstseen=f("min", col("start")),
            d_lastseen=f("max", col("end")),
            d_latest_start_ms=f("max", f("toUnixTimestamp64Milli", col("start"))),
        ),
        views,
        group_by=(col("subscriber_key"), col("day"), *((part,) if split else ())),
    )


def day_rows(query: SmartQuery) -> Select:
    """The rows `SUBSCRIBER_DAYS_TABLE` stores of a day: each subscriber's sums of the views started in the
    period of a query of that day (not in its lookback)."""
    the_day = ((query.period.start, query.period.end),)
    return Select(same("subscriber_key", *_DAY_COLUMNS), _day_rows(query, the_day, split=False))


def _stored_days(query: SmartQuery) -> tuple[date, ...]:
    """The whole days of the lookback, of the period's first half and of its second half: each lies in one of
    them, so a subscriber's sums of the day count in one place."""
    middle = _middle(query)
    parts = ((query.since(LOOKBACK), query.period.start), (query.period.start, middle), (middle, query.period.end))
    return tuple(day for start, end in parts for day in whole_days(Period(start, end)))


DAYS = DayTable("subscribers", SUBSCRIBER_DAYS_TABLE, day_rows, _stored_days)


def _per_subscriber(query: SmartQuery) -> Select:
    """One row per subscriber with a view in the period: its sums, and its cohort. The sums add up its rows of
    `_day_rows`: stored for the days of `query.stored`, computed from `views` for the rest."""
    period = query.period
    middle = _middle(query)
    rows = stored_or_computed(
        query,
        Period(query.since(LOOKBACK), period.end),
        SUBSCRIBER_DAYS_TABLE,
        ("subscriber_key", "day", *_DAY_COLUMNS),
        lambda spans: _day_rows(query, spans, split=True),
    )
    seen = col("d_firstseen")
    inside = op(">=", seen, moment(period.start))
    first_half = and_(inside, op("<", seen, moment(middle)))
    second_half = op(">=", seen, moment(middle))
    days = max(1, math.ceil(period.span / timedelta(days=1)))

    def total(name: str, condition: Expr = inside) -> Expr:
        return f("sumIf", col(f"d_{name}"), condition)

    def distinct(name: str) -> Expr:
        return f("arrayFlatten", f("groupArrayIf", col(f"d_{name}"), inside))

    sums = named(
        subscriber_key=col("subscriber_key"),
        attempts=total("attempts"),
        plays=total("plays"),
        titles=f("toUInt64", f("arrayUniq", distinct("titles"))),
        play_ms=total("play_ms"),
        rebuffer_ms=total("rebuffer_ms"),
        startup_ms=total("startup_ms"),
        daysactive=_days_active(query, inside),
        failures=total("failures"),
        poorviews=total("poorviews"),
        devices=f("toUInt64", f("arrayUniq", distinct("devices"))),
        device_classes=f("arrayDistinct", distinct("device_classes")),
        first_half_views=total("attempts", first_half),
        first_half_ms=total("play_ms", first_half),
        second_half_ms=total("play_ms", second_half),
        firstseen=f("min", seen),
        lastseen=f("maxIf", col("d_lastseen"), inside),
        latest_start_ms=f("maxIf", col("d_latest_start_ms"), inside),
        before=total("attempts", f("not", inside)),
    )
    at_risk = or_(
        and_(op(">=", col("poorviews"), i(2)), op(">=", op("*", col("poorviews"), i(4)), col("attempts"))),
        and_(
            op(">=", col("first_half_views"), i(FALLING_VIEWS)),
            op("<", op("*", col("second_half_ms"), i(FALLING_SHARE)), col("first_half_ms")),
        ),
    )
    engaged = and_(op(">=", col("play_ms"), i(ENGAGED_MINUTES * 60_000)), op(">=", col("daysactive"), i(min(2, days))))
    cohort = f(
        "multiIf",
        at_risk,
        text("atrisk"),
        op("=", col("before"), i(0)),
        text("new"),
        engaged,
        text("engaged"),
        text("returning"),
    )
    return Select(
        sums + named(cohort=cohort),
        rows,
        group_by=(col("subscriber_key"),),
        having=op(">", col("attempts"), i(0)),
    )


LABEL_KEYS = ("subscriber_key", "latest_start_ms")
LABELLED = ("subscriberid", "subscribertype")
"""The columns `label_subscribers` answers for the page's rows, located by `LABEL_KEYS`: the subscriber's
hash and the start (epoch ms) of its latest view in the period."""


def _catalog_metrics(
    attempts: Expr, plays: Expr, play_ms: Expr, rebuffer_ms: Expr, startup_ms: Expr
) -> Callable[[str], Expr]:
    """A catalog metric, by name, over these sums of the subscribers' views' parts (`compile.metric_over`)."""
    parts = {
        "attempts": attempts,
        "plays": plays,
        "play_ms": play_ms,
        "rebuffer_ms": rebuffer_ms,
        "startup_ms_sum": startup_ms,
    }
    return lambda name: metric_over(metric(name), parts)


def build_insight(query: SmartQuery) -> Select:
    """The subscribers, by play time (ties by hash), as `LABEL_KEYS`, which `label_subscribers` names; their
    device classes as hashes, which `name_insight_page` names."""
    over = _catalog_metrics(*(col(name) for name in ("attempts", "plays", "play_ms", "rebuffer_ms", "startup_ms")))
    columns = named(
        cohort=col("cohort"),
        attempts=over("attempts"),
        viewercount=over("viewercount"),
        titles=col("titles"),
        playdur=over("playdur"),
        daysactive=col("daysactive"),
        latency=over("latency"),
        bufferingratio=over("bufferingratio"),
        failures=col("failures"),
        failurerate=ratio(col("failures"), col("attempts"), 100.0),
        poorviews=col("poorviews"),
        devices=col("devices"),
        devicetypes=col("device_classes"),  # hashes on the page, named by the SELECT around it
        engagementtrend=op("-", ratio(col("second_half_ms"), col("first_half_ms"), 100.0), num(100.0)),
        firstseen=col("firstseen"),
        lastseen=col("lastseen"),
        **{key: col(key) for key in LABEL_KEYS},
    )
    order = (OrderBy(col("play_ms"), "DESC"), OrderBy(col("subscriber_key"), "ASC"))
    return Select(
        (*columns, *same("play_ms")), _per_subscriber(query), where=row_filter(query.row_filter), order_by=order
    )


def name_insight_page(query: SmartQuery, page: Select) -> Select:
    """The page of `build_insight`'s rows with their device classes named (on the page's rows only)."""
    names = lam("h", at(ScalarSelect(_device_names(query)), col("h")))
    named_types = named(devicetypes=f("arraySort", f("arrayMap", names, col("devicetypes"))))[0]
    answered = (c.alias for c in page.columns if c.alias not in ("play_ms", TOTAL_RECORDS))
    return Select(
        (*(named_types if name == "devicetypes" else same(name)[0] for name in answered), *same(TOTAL_RECORDS)),
        page,
        order_by=page.order_by,
    )


def label_subscribers(query: SmartQuery, located: tuple[tuple[int, ...], ...]) -> Select:
    """The id and subscription type of each subscriber of `located` (`LABEL_KEYS` values), from its latest
    view in the period: the rows of `views` with that start (found by the primary key, so only their
    granules are read) and the subscriber's hash, read without FINAL (every such row carries both labels;
    views that start in the same millisecond give the greatest type)."""
    subscriber = hash_of("subscriberid")
    starts = Param(tuple(start for _, start in located), "Array(Int64)")
    keys = Param(tuple(key for key, _ in located), "Array(UInt64)")
    return Select(
        named(
            subscriber_key=subscriber,
            subscriberid=f("any", col("subscriberid")),
            subscribertype=f("max", col("subscribertype")),
        ),
        Table("views", query.customer_id),
        where=and_(
            between(VIEW_START, query.period.start, query.period.end),
            f("has", starts, f("toUnixTimestamp64Milli", VIEW_START)),
            f("has", keys, subscriber),
        ),
        group_by=(subscriber,),
    )


def build_cohorts(query: SmartQuery) -> Select:
    sums = {name: f("sum", col(name)) for name in ("attempts", "plays", "play_ms", "rebuffer_ms", "startup_ms")}
    sums |= {name: f("sum", col(name)) for name in ("failures", "poorviews")}
    grouped = Select(
        named(cohort=col("cohort"), subscribers=f("count"), **{f"sum_{name}": e for name, e in sums.items()}),
        _per_subscriber(query),
        group_by=(col("cohort"),),
    )
    attempts, plays, play_ms = (col(f"sum_{n}") for n in ("attempts", "plays", "play_ms"))
    over = _catalog_metrics(attempts, plays, play_ms, col("sum_rebuffer_ms"), col("sum_startup_ms"))
    minutes = num(60_000.0)
    rank = f("indexOf", f("array", *(text(c) for c in COHORTS)), col("cohort"))
    return Select(
        (
            *named(
                cohort=col("cohort"),
                subscribers=col("subscribers"),
                share=ratio(col("subscribers"), Window(f("sum", col("subscribers"))), 100.0),
                attempts=over("attempts"),
                viewercount=over("viewercount"),
                playdur=over("playdur"),
                playdurpersubscriber=op("/", ratio(play_ms, col("subscribers")), minutes),
                latency=over("latency"),
                bufferingratio=over("bufferingratio"),
                failurerate=ratio(col("sum_failures"), attempts, 100.0),
                poorviewshare=ratio(col("sum_poorviews"), attempts, 100.0),
            ),
        ),
        grouped,
        where=row_filter(query.row_filter),
        order_by=(OrderBy(rank, "ASC"),),
    )
