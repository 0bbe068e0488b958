"""The named queries computed independently, in pandas, from the simulator's ground truth (one row per view).

Nothing here reads the query builders: each definition of docs/smartquery.md is written again from the
truth's columns (start and end of each view, its outcome, play and stall time, dimensions). Rows are keyed
as the API's rows are, so that a test compares them one by one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

GAP_MS = 30 * 60_000
MAX_PATH = 5
END = "(end)"
LOOKBACK_MS = 28 * 86_400_000
HOUR_MS = 3_600_000


def truth_frame(truth: pa.Table) -> pd.DataFrame:
    """The truth with times as epoch ms and dimensions as plain strings."""
    frame: pd.DataFrame = truth.to_pandas()
    frame["start_ms"] = truth.column("view_start").cast(pa.int64()).to_numpy()
    frame["end_ms"] = truth.column("end_ts").cast(pa.int64()).to_numpy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype) or frame[name].dtype == object:
            frame[name] = frame[name].astype(str)
        elif frame[name].dtype.kind == "u":
            frame[name] = frame[name].astype("int64")
    frame["started"] = frame["started"] == 1
    return frame


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    @staticmethod
    def of(start: datetime, end: datetime) -> Span:
        return Span(int(start.timestamp() * 1000), int(end.timestamp() * 1000))

    def holds(self, frame: pd.DataFrame, lookback_ms: int = 0) -> pd.Series:
        return (frame["start_ms"] >= self.start_ms - lookback_ms) & (frame["start_ms"] < self.end_ms)

    @property
    def days(self) -> int:
        return max(1, math.ceil((self.end_ms - self.start_ms) / 86_400_000))


def sessions(frame: pd.DataFrame, span: Span) -> Iterator[pd.DataFrame]:
    """Each viewing session's views (started, in the span), in start order: a viewer's next view starts a
    new session after a gap of more than 30 minutes, or on another UTC day."""
    played = frame[span.holds(frame) & frame["started"] & (frame["viewerid"] != "") & (frame["assetid"] != "")]
    played = played.sort_values(["viewerid", "start_ms", "end_ms"], kind="stable")
    previous_end = played.groupby("viewerid")["end_ms"].shift()
    day = played["start_ms"] // 86_400_000
    previous_day = day.groupby(played["viewerid"]).shift()
    cut = previous_end.isna() | (played["start_ms"] - previous_end > GAP_MS) | (day != previous_day)
    for _, views in played.groupby(cut.cumsum(), sort=False):
        yield views


def collapsed(titles: list[str]) -> list[str]:
    return [t for k, t in enumerate(titles) if k == 0 or t != titles[k - 1]]


def content_paths(frame: pd.DataFrame, span: Span) -> dict[tuple[str, tuple[str, ...]], dict[str, Any]]:
    """(kind, assetids) → count, share, sessionshare, titles."""
    names = dict(zip(frame["assetid"], frame["assetname"], strict=False))
    counts: Counter[tuple[int, tuple[str, ...], str]] = Counter()
    total_sessions = 0
    for views in sessions(frame, span):
        titles = collapsed(list(views["assetid"]))
        total_sessions += 1
        n = len(titles)
        for k in range(2, min(n + 1, MAX_PATH) + 1):
            counts[(1, tuple(titles[: k - 1]), titles[k - 1] if k <= n else END)] += 1
        for i in range(n):
            counts[(2, (titles[i],), titles[i + 1] if i + 1 < n else END)] += 1
    parents: Counter[tuple[int, tuple[str, ...]]] = Counter()
    for (kind, parent, _), count in counts.items():
        parents[(kind, parent)] += count
    rows = {}
    for (kind, parent, after), count in counts.items():
        label = "path" if kind == 1 else "exit" if after == END else "transition"
        path = (*parent, after)
        rows[(label, path)] = {
            "pathlength": len(parent) + (after != END),
            "titles": [names.get(a, END) if a != END else END for a in path],
            "count": count,
            "share": count / parents[(kind, parent)],
            "sessionshare": count / total_sessions if kind == 1 else None,
        }
    return rows


def true_sessions_kept_whole(frame: pd.DataFrame, span: Span) -> float:
    """The share of the simulator's sessions (their started views in the span) whose views the 30-minute rule
    puts in one session. (It may join two of them: a viewer who starts again within 30 minutes of the end
    of a session continues it, by definition.)"""
    rebuilt: dict[str, int] = {}
    for number, views in enumerate(sessions(frame, span)):
        rebuilt |= dict.fromkeys(views["view_id"], number)
    played = frame[span.holds(frame) & frame["started"]]
    kept = played.groupby("session")["view_id"].agg(lambda ids: len({rebuilt[i] for i in ids}) == 1)
    return float(kept.mean())


def binge_sessions(frame: pd.DataFrame, span: Span, min_episodes: int = 3) -> dict[str, dict[str, Any]]:
    runs = []
    for views in sessions(frame, span):
        viewer, first = views["viewerid"].iloc[0], int(views["start_ms"].iloc[0])
        names = list(views["series"])
        cut = [k == 0 or names[k] != names[k - 1] for k in range(len(names))]
        for _, run in views.groupby(np.cumsum(cut), sort=False):
            if run["series"].iloc[0]:
                runs.append((run["series"].iloc[0], viewer, first, run["assetid"].nunique(), int(run["play_ms"].sum())))
    table = pd.DataFrame(runs, columns=["series", "viewer", "first", "episodes", "play"])
    rows = {}
    for series, group in table.groupby("series"):
        binges = group[group["episodes"] >= min_episodes]
        sessions_of_series = len(set(zip(group["viewer"], group["first"], strict=True)))
        rows[str(series)] = {
            "bingesessions": len(binges),
            "bingers": binges["viewer"].nunique(),
            "seriessessions": sessions_of_series,
            "bingerate": 100 * len(binges) / sessions_of_series,
            "avgepisodes": binges["episodes"].mean() if len(binges) else None,
            "maxepisodes": int(binges["episodes"].max()) if len(binges) else 0,
            "avgbingeminutes": binges["play"].mean() / 60_000 if len(binges) else None,
            "playdur": group["play"].sum() / 60_000,
            "bingeplayshare": 100 * binges["play"].sum() / group["play"].sum() if group["play"].sum() else None,
        }
    return rows


def content_engagement(frame: pd.DataFrame, span: Span) -> dict[str, dict[str, Any]]:
    plays = frame[
        span.holds(frame)
        & frame["started"]
        & (frame["streamtype"] == "vod")
        & (frame["contentduration"] > 0)
        & (frame["assetid"] != "")
    ].copy()
    fraction = plays["play_ms"] / (plays["contentduration"] * 1000.0)
    plays["reach"] = np.where(plays["outcome"] == "completed", 1.0, np.minimum(1.0, fraction))
    rows = {}
    for asset, group in plays.groupby("assetid"):
        n = len(group)
        rows[str(asset)] = {
            "assetname": group["assetname"].iloc[0],
            "contentduration": int(group["contentduration"].iloc[0]),
            "viewercount": n,
            "uniqueviewercount": group["viewerid"].nunique(),
            "playdur": group["play_ms"].sum() / 60_000,
            "avgcompletion": 100 * group["reach"].mean(),
            **{f"reached{q}": 100 * (group["reach"] >= q / 100).sum() / n for q in (25, 50, 75, 100)},
            "dropoff25": 100 * (group["reach"] < 0.25).sum() / n,
        }
    return rows


def new_vs_returning(frame: pd.DataFrame, span: Span) -> dict[int, dict[str, Any]]:
    plays = frame[span.holds(frame, LOOKBACK_MS) & frame["started"] & (frame["viewerid"] != "")].copy()
    first_seen = plays.groupby("viewerid")["start_ms"].transform("min")
    plays["bucket"] = plays["start_ms"] // HOUR_MS * HOUR_MS
    plays["new"] = (first_seen >= span.start_ms) & (plays["bucket"] == first_seen // HOUR_MS * HOUR_MS)
    plays = plays[plays["start_ms"] >= span.start_ms]
    rows = {}
    for _, group in plays.groupby("bucket"):
        new, old = group[group["new"]], group[~group["new"]]
        rows[int(group["bucket"].iloc[0]) // 1000] = {
            "uniqueviewercount": group["viewerid"].nunique(),
            "newviewers": new["viewerid"].nunique(),
            "returningviewers": old["viewerid"].nunique(),
            "newshare": 100 * new["viewerid"].nunique() / group["viewerid"].nunique(),
            "viewercount": len(group),
            "newplays": len(new),
            "returningplays": len(old),
            "playdur": group["play_ms"].sum() / 60_000,
            "newplaydur": new["play_ms"].sum() / 60_000,
            "returningplaydur": old["play_ms"].sum() / 60_000,
        }
    return rows


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if denominator == 0 else scale * numerator / denominator


def subscriber_insight(frame: pd.DataFrame, span: Span) -> dict[str, dict[str, Any]]:
    """subscriberid → every column of `subscriberinsight`, the cohort from the definitions."""
    views = frame[span.holds(frame, LOOKBACK_MS) & (frame["subscriberid"] != "")].copy()
    watch = views["play_ms"] + views["rebuffer_ms"]
    views["failed"] = views["outcome"].isin(["vsf", "vpf"])
    stalls = (watch > 0) & (views["rebuffer_ms"] / watch.where(watch > 0, 1) >= 0.05)
    views["poor"] = views["failed"] | (views["started"] & ((views["startup_ms"] >= 4000) | stalls))
    middle = span.start_ms + (span.end_ms - span.start_ms) / 2
    rows = {}
    for subscriber, group in views.groupby("subscriberid"):
        inside = group[group["start_ms"] >= span.start_ms]
        if inside.empty:
            continue
        plays = inside[inside["started"]]
        first_half = inside[inside["start_ms"] < middle]
        second_half_ms = int(inside[inside["start_ms"] >= middle]["play_ms"].sum())
        play_ms, rebuffer_ms = int(inside["play_ms"].sum()), int(inside["rebuffer_ms"].sum())
        poor, attempts = int(inside["poor"].sum()), len(inside)
        days = inside["start_ms"] // 86_400_000
        at_risk = (poor >= 2 and 4 * poor >= attempts) or (
            len(first_half) >= 3 and 4 * second_half_ms < first_half["play_ms"].sum()
        )
        engaged = play_ms >= 60 * 60_000 and days.nunique() >= min(2, span.days)
        cohort = "atrisk" if at_risk else "new" if len(group) == len(inside) else "engaged" if engaged else "returning"
        trend = _ratio(second_half_ms, int(first_half["play_ms"].sum()), 100.0)
        rows[str(subscriber)] = {
            "subscribertype": inside.loc[inside["start_ms"] == inside["start_ms"].max(), "subscribertype"].max(),
            "cohort": cohort,
            "attempts": attempts,
            "viewercount": len(plays),
            "titles": plays["assetid"].nunique(),
            "playdur": play_ms / 60_000,
            "daysactive": days.nunique(),
            "latency": _ratio(int(plays["startup_ms"].sum()), len(plays), 0.001),
            "bufferingratio": _ratio(rebuffer_ms, play_ms + rebuffer_ms, 100.0),
            "failures": int(inside["failed"].sum()),
            "failurerate": _ratio(int(inside["failed"].sum()), attempts, 100.0),
            "poorviews": poor,
            "devices": inside["viewerid"].nunique(),
            "devicetypes": sorted(set(inside["device"])),
            "engagementtrend": None if trend is None else trend - 100,
            "firstseen": int(group["start_ms"].min()) // 1000,
            "lastseen": int(inside["end_ms"].max()) // 1000,
            # the parts of the cohort view
            "_play_ms": play_ms,
            "_rebuffer_ms": rebuffer_ms,
            "_startup_ms": int(plays["startup_ms"].sum()),
        }
    return rows


def subscriber_cohorts(insight: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table = pd.DataFrame(insight.values())
    rows = {}
    for cohort, group in table.groupby("cohort"):
        play_ms, rebuffer_ms = group["_play_ms"].sum(), group["_rebuffer_ms"].sum()
        rows[str(cohort)] = {
            "subscribers": len(group),
            "share": 100 * len(group) / len(table),
            "attempts": int(group["attempts"].sum()),
            "viewercount": int(group["viewercount"].sum()),
            "playdur": play_ms / 60_000,
            "playdurpersubscriber": play_ms / len(group) / 60_000,
            "latency": _ratio(group["_startup_ms"].sum(), group["viewercount"].sum(), 0.001),
            "bufferingratio": _ratio(rebuffer_ms, play_ms + rebuffer_ms, 100.0),
            "failurerate": _ratio(group["failures"].sum(), group["attempts"].sum(), 100.0),
            "poorviewshare": _ratio(group["poorviews"].sum(), group["attempts"].sum(), 100.0),
        }
    return rows


def top_content(frame: pd.DataFrame, span: Span, business_vsf: set[str]) -> dict[str, dict[str, Any]]:
    """Per title, over a span that holds every event of its views (so that attribution does not matter)."""
    views = frame[span.holds(frame)]
    total_play = views["play_ms"].sum()
    rows = {}
    for asset, group in views.groupby("assetid"):
        plays = group[group["started"]]
        vsf = group[(group["outcome"] == "vsf") & ~group["view_id"].isin(business_vsf)]
        play_ms, rebuffer_ms = int(group["play_ms"].sum()), int(group["rebuffer_ms"].sum())
        rows[str(asset)] = {
            "assetname": group["assetname"].iloc[0],
            "series": group["series"].iloc[0],
            "genre": group["genre"].iloc[0],
            "streamtype": group["streamtype"].iloc[0],
            "viewercount": len(plays),
            "attempts": len(group),
            "uniqueviewercount": plays["viewerid"].nunique(),
            "playdur": play_ms / 60_000,
            "playshare": 100 * play_ms / total_play,
            "avgplayminutes": _ratio(play_ms / 60_000, len(plays)),
            "completionrate": _ratio(int((plays["outcome"] == "completed").sum()), len(plays), 100.0),
            "latency": _ratio(int(plays["startup_ms"].sum()), len(plays), 0.001),
            "bufferingratio": _ratio(rebuffer_ms, play_ms + rebuffer_ms, 100.0),
            "vsf": _ratio(len(vsf), len(group), 100.0),
        }
    return rows


def day_after(start: datetime) -> tuple[datetime, datetime]:
    return start + timedelta(days=1), start + timedelta(days=2)
